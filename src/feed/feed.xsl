<?xml version="1.0" encoding="UTF-8"?>
<!-- postfeed: shows an Atom or RSS feed as a web page when a browser opens it. Every text is
     copied with value-of (escaped, never as markup), and links are kept only when they are
     http(s), so nothing in a feed can run in the page. The one script is the copy button's,
     allowed by its hash in the feed's Content-Security-Policy (src/feed/stylesheet.rs). -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:template match="/">
    <xsl:choose>
      <xsl:when test="atom:feed">
        <xsl:call-template name="page">
          <xsl:with-param name="title" select="atom:feed/atom:title"/>
          <xsl:with-param name="about" select="atom:feed/atom:subtitle"/>
          <xsl:with-param name="self" select="atom:feed/atom:link[@rel='self']/@href"/>
          <xsl:with-param name="site" select="atom:feed/atom:link[@rel='alternate']/@href"/>
          <xsl:with-param name="kind" select="'Atom'"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="page">
          <!-- RSS texts that could be read as markup are escaped once as HTML: decoded here, as text. -->
          <xsl:with-param name="title">
            <xsl:call-template name="unescape">
              <xsl:with-param name="text" select="string(rss/channel/title)"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="about">
            <xsl:call-template name="unescape">
              <xsl:with-param name="text" select="string(rss/channel/description)"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="self" select="rss/channel/atom:link[@rel='self']/@href"/>
          <xsl:with-param name="site" select="rss/channel/link"/>
          <xsl:with-param name="kind" select="'RSS'"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="title"/>
    <xsl:param name="about"/>
    <xsl:param name="self"/>
    <xsl:param name="site"/>
    <xsl:param name="kind"/>
    <html>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (<xsl:value-of select="$kind"/> feed)</title>
        <style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#1d1d1f;background:#fff}
.note{background:#fff6d6;border:1px solid #e6d38a;border-radius:6px;padding:.6rem .8rem;font-size:.95rem}
h1{font-size:1.8rem;margin:.8rem 0 .2rem}
.subscribe code{display:block;user-select:all;background:#f2f2f4;border:1px solid #d6d6dc;border-radius:4px;padding:.4rem .6rem;overflow-wrap:anywhere}
ol{list-style:none;padding:0}
li{border-top:1px solid #e3e3e8;padding:.8rem 0}
h2{font-size:1.15rem;margin:0}
time{color:#6b6b73;font-size:.9rem}
.summary{margin:.3rem 0 0}
button{font:inherit;font-size:.9rem;margin-top:.4rem}
@media (prefers-color-scheme:dark){body{color:#e8e8ea;background:#16161a}.note{background:#3a3320;border-color:#6b5d2c}.subscribe code{background:#24242a;border-color:#3a3a44}li{border-color:#2c2c33}a{color:#8ab4ff}}
        </style>
      </head>
      <body>
        <p class="note">This is a web feed (<xsl:value-of select="$kind"/>). To follow it, copy its address into
          a feed reader such as NetNewsWire, Feedbin or newsboat.</p>
        <h1 id="feed-title"><xsl:value-of select="$title"/></h1>
        <xsl:if test="string($about) != string($title)">
          <p id="feed-about"><xsl:value-of select="$about"/></p>
        </xsl:if>
        <p class="subscribe">Subscribe with this address:
          <code id="subscribe-url"><xsl:value-of select="$self"/></code>
          <button type="button" id="copy" hidden="hidden">Copy address</button></p>
        <xsl:if test="starts-with($site, 'https://') or starts-with($site, 'http://')">
          <p><a id="site-link" href="{$site}">Visit the site</a></p>
        </xsl:if>
        <ol id="entries">
          <xsl:apply-templates select="atom:feed/atom:entry | rss/channel/item"/>
        </ol>
        <script>
(function () {
  "use strict";
  var button = document.getElementById("copy");
  var address = document.getElementById("subscribe-url").textContent;
  if (!navigator.clipboard || !window.isSecureContext) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(address).then(function () { button.textContent = "Copied"; });
  });
})();
        </script>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:call-template name="entry">
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="link" select="atom:link[@rel='alternate']/@href"/>
      <xsl:with-param name="date" select="substring(atom:published | atom:updated[not(../atom:published)], 1, 10)"/>
      <xsl:with-param name="summary" select="string(atom:summary)"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="item">
    <xsl:call-template name="entry">
      <xsl:with-param name="title">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="string(title)"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="link" select="link"/>
      <xsl:with-param name="date" select="pubDate"/>
      <!-- RSS descriptions are the summary escaped once as HTML: decoded here, as text. -->
      <xsl:with-param name="summary">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="string(description)"/>
        </xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="entry">
    <xsl:param name="title"/>
    <xsl:param name="link"/>
    <xsl:param name="date"/>
    <xsl:param name="summary"/>
    <li class="entry">
      <h2>
        <xsl:choose>
          <xsl:when test="starts-with($link, 'https://') or starts-with($link, 'http://')">
            <a href="{$link}"><xsl:value-of select="$title"/></a>
          </xsl:when>
          <xsl:otherwise><xsl:value-of select="$title"/></xsl:otherwise>
        </xsl:choose>
      </h2>
      <time><xsl:value-of select="$date"/></time>
      <xsl:if test="string($summary) != ''">
        <p class="summary"><xsl:value-of select="$summary"/></p>
      </xsl:if>
    </li>
  </xsl:template>

  <!-- `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#39;` in $text turned back into characters. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="contains($text, '&amp;')">
        <xsl:value-of select="substring-before($text, '&amp;')"/>
        <xsl:variable name="rest" select="substring-after($text, '&amp;')"/>
        <xsl:variable name="entity">
          <xsl:choose>
            <xsl:when test="starts-with($rest, 'amp;')">amp;&amp;</xsl:when>
            <xsl:when test="starts-with($rest, 'lt;')">lt;&lt;</xsl:when>
            <xsl:when test="starts-with($rest, 'gt;')">gt;&gt;</xsl:when>
            <xsl:when test="starts-with($rest, 'quot;')">quot;"</xsl:when>
            <xsl:when test="starts-with($rest, '#39;')">#39;'</xsl:when>
          </xsl:choose>
        </xsl:variable>
        <xsl:choose>
          <xsl:when test="$entity != ''">
            <xsl:value-of select="substring($entity, string-length($entity))"/>
            <xsl:call-template name="unescape">
              <xsl:with-param name="text" select="substring($rest, string-length($entity))"/>
            </xsl:call-template>
          </xsl:when>
          <xsl:otherwise>
            <xsl:text>&amp;</xsl:text>
            <xsl:call-template name="unescape">
              <xsl:with-param name="text" select="$rest"/>
            </xsl:call-template>
          </xsl:otherwise>
        </xsl:choose>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
