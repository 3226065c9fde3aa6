# Renders Markdown documents with Jekyll's own kramdown converter and Jekyll's default settings.
# Input on stdin: one JSON object per line, {"id": ..., "markdown": ..., "config": {...}?}.
# Output on stdout: one JSON object per line, {"id": ..., "html": ...} or {"id": ..., "error": ...}.
# One Ruby process serves many documents, because starting Jekyll costs about a second.
require "json"
require "tmpdir"
require "jekyll"

# The empty site folder Jekyll wants goes when stdin ends.
Dir.mktmpdir("postfeed-kramdown-") do |empty_site|
  converters = {}
  converter_for = lambda do |kramdown_config|
    converters[kramdown_config] ||= begin
      config = { "quiet" => true, "source" => empty_site }
      config["kramdown"] = kramdown_config unless kramdown_config.empty?
      site = Jekyll::Site.new(Jekyll.configuration(config))
      site.find_converter_instance(Jekyll::Converters::Markdown)
    end
  end

  STDOUT.sync = true
  STDIN.each_line do |line|
    request = JSON.parse(line)
    begin
      html = converter_for.call(request["config"] || {}).convert(request["markdown"])
      puts JSON.generate({ "id" => request["id"], "html" => html })
    rescue StandardError => e
      puts JSON.generate({ "id" => request["id"], "error" => "#{e.class}: #{e.message}" })
    end
  end
end
