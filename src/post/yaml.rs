//! Loads YAML from libyaml's events (the parser Ruby's Psych also uses), typing each scalar the way
//! Jekyll's reader does: only plain scalars are resolved, by YAML 1.1's rules as Psych has them
//! ([`super::psych`]); quoted and block scalars stay text. serde_yaml resolves by YAML 1.2's rules
//! and does not say how a scalar was written, so it cannot do this.

use std::collections::HashMap;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use super::front_matter::{Field, YamlError};
use super::psych::{self, Resolved};

/// A tree that YAML loads into: front matter's [`Field`]s, or `serde_yaml::Value`s where the
/// types matter (Liquid's `page`, `site`, `site.data`).
pub(crate) trait Tree: Clone + PartialEq + Sized {
    fn scalar(value: Resolved) -> Self;
    fn list(items: Vec<Self>) -> Self;
    fn map(entries: Vec<(Self, Self)>) -> Self;
    /// The entries of a mapping, for merge keys (`<<: *base`); anything else is given back.
    fn into_entries(self) -> Result<Vec<(Self, Self)>, Self>;
    /// The items of a list; anything else is given back.
    fn into_items(self) -> Result<Vec<Self>, Self>;
}

impl Tree for Field {
    fn scalar(value: Resolved) -> Field {
        match value {
            Resolved::Null => Field::Null,
            Resolved::Bool(b) => Field::Scalar(b.to_string()),
            Resolved::Int(i) => Field::Scalar(i.to_string()),
            Resolved::BigInt(digits) => Field::Scalar(digits),
            Resolved::Float(f) => Field::Scalar(psych::ruby_float(f)),
            // The loader refuses symbols before they get here.
            Resolved::Symbol => Field::Null,
            Resolved::Str(s) => Field::Text(s),
        }
    }

    fn list(items: Vec<Field>) -> Field {
        Field::List(items)
    }

    /// Keys become their text as Ruby's `to_s` writes it; keys that are lists or maps (or null)
    /// are dropped with their values.
    fn map(entries: Vec<(Field, Field)>) -> Field {
        Field::Map(entries.into_iter().filter_map(|(k, v)| Some((k.as_text()?.to_string(), v))).collect())
    }

    fn into_entries(self) -> Result<Vec<(Field, Field)>, Field> {
        match self {
            Field::Map(entries) => Ok(entries.into_iter().map(|(k, v)| (Field::Text(k), v)).collect()),
            other => Err(other),
        }
    }

    fn into_items(self) -> Result<Vec<Field>, Field> {
        match self {
            Field::List(items) => Ok(items),
            other => Err(other),
        }
    }
}

impl Tree for serde_yaml::Value {
    fn scalar(value: Resolved) -> serde_yaml::Value {
        use serde_yaml::Value;
        match value {
            Resolved::Null | Resolved::Symbol => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => match (i64::try_from(i), u64::try_from(i)) {
                (Ok(small), _) => Value::Number(small.into()),
                (_, Ok(big)) => Value::Number(big.into()),
                _ => Value::Number((i as f64).into()),
            },
            Resolved::BigInt(digits) => Value::Number(digits.parse::<f64>().unwrap_or(f64::NAN).into()),
            Resolved::Float(f) => Value::Number(f.into()),
            Resolved::Str(s) => Value::String(s),
        }
    }

    fn list(items: Vec<serde_yaml::Value>) -> serde_yaml::Value {
        serde_yaml::Value::Sequence(items)
    }

    /// A key set twice keeps its first place and its last value, as in a Ruby Hash.
    fn map(entries: Vec<(serde_yaml::Value, serde_yaml::Value)>) -> serde_yaml::Value {
        let mut map = serde_yaml::Mapping::with_capacity(entries.len());
        for (key, value) in entries {
            map.insert(key, value);
        }
        serde_yaml::Value::Mapping(map)
    }

    fn into_entries(self) -> Result<Vec<(serde_yaml::Value, serde_yaml::Value)>, serde_yaml::Value> {
        match self {
            serde_yaml::Value::Mapping(map) => Ok(map.into_iter().collect()),
            other => Err(other),
        }
    }

    fn into_items(self) -> Result<Vec<serde_yaml::Value>, serde_yaml::Value> {
        match self {
            serde_yaml::Value::Sequence(items) => Ok(items),
            other => Err(other),
        }
    }
}

/// Bounds on what one document may load into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Deepest nesting of lists and maps.
    pub(crate) max_depth: usize,
}

/// Most nodes that aliases may add, as a multiple of the events read (plus a floor): a "billion
/// laughs" file of a few lines fails at once instead of growing.
const ALIAS_GROWTH: usize = 100;
const ALIAS_FLOOR: usize = 10_000;

/// Loads the first document of `yaml` (as Psych's `safe_load` does; later ones are not read).
/// An empty stream is `None`.
pub(crate) fn load<T: Tree>(yaml: &str, limits: Limits) -> Result<Option<T>, YamlError> {
    let mut events = EventReader::new(yaml)?;
    let mut builder = Builder::<T> { stack: Vec::new(), anchors: HashMap::new(), nodes: 0, events: 0, limits };
    loop {
        let (event, line) = events.next()?;
        builder.events += 1;
        let done = match event {
            Event::StreamStart | Event::DocumentStart => None,
            Event::StreamEnd | Event::DocumentEnd => return Ok(None),
            Event::Scalar { value, plain, tag, anchor } => {
                // Psych merges at any `<<` key but one tagged `!!str`, quoted or not.
                let is_merge_key = value == "<<" && tag.as_deref() != Some("tag:yaml.org,2002:str");
                let resolved = resolve(value, plain, tag.as_deref());
                if resolved == Resolved::Symbol {
                    return Err(YamlError {
                        message: "a plain value that starts with `:` is a Ruby symbol, which Jekyll's YAML reader refuses; quote it".into(),
                        line: Some(line),
                    });
                }
                builder.node(T::scalar(resolved), 1, anchor, is_merge_key)?
            }
            Event::Alias(name) => {
                let Some((anchored, size)) = builder.anchors.get(&name) else {
                    return Err(YamlError { message: format!("unknown alias *{name}"), line: Some(line) });
                };
                // Counted before the copy is made.
                builder.nodes += size;
                if builder.nodes > ALIAS_FLOOR + ALIAS_GROWTH * builder.events {
                    return Err(YamlError { message: "aliases expand too far".into(), line: Some(line) });
                }
                let (node, size) = (anchored.clone(), *size);
                builder.node(node, size, None, false)?
            }
            Event::SequenceStart { anchor } => builder.open(Open::List(Vec::new()), anchor, line)?,
            Event::MappingStart { anchor } => builder.open(Open::Map(Vec::new(), None), anchor, line)?,
            Event::SequenceEnd | Event::MappingEnd => builder.close(line)?,
        };
        if let Some(root) = done {
            return Ok(Some(root));
        }
    }
}

/// Psych's `deserialize`: an untagged quoted or block scalar is text, an untagged plain one is
/// resolved; with a tag, `!!str` keeps the text, `!!float` makes a float, and any other tag is
/// resolved as if plain (even on a quoted scalar).
fn resolve(value: String, plain: bool, tag: Option<&str>) -> Resolved {
    match tag {
        None if !plain => Resolved::Str(value),
        None => psych::resolve_plain(&value),
        Some("tag:yaml.org,2002:str" | "!str" | "!binary" | "tag:yaml.org,2002:binary") => Resolved::Str(value),
        Some("tag:yaml.org,2002:float" | "!float") => match psych::resolve_plain(&value) {
            Resolved::Int(i) => Resolved::Float(i as f64),
            other => other,
        },
        Some(_) => psych::resolve_plain(&value),
    }
}

enum Open<T> {
    List(Vec<T>),
    /// Entries so far, and the key waiting for its value (with whether it is a merge key).
    Map(Vec<(T, T)>, Option<(T, bool)>),
}

struct Frame<T> {
    open: Open<T>,
    anchor: Option<String>,
    /// Nodes in this collection so far, itself included: what an alias to it costs.
    size: usize,
}

struct Builder<T> {
    stack: Vec<Frame<T>>,
    anchors: HashMap<String, (T, usize)>,
    nodes: usize,
    events: usize,
    limits: Limits,
}

impl<T: Tree> Builder<T> {
    fn open(&mut self, open: Open<T>, anchor: Option<String>, line: usize) -> Result<Option<T>, YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError {
                message: format!("nests more than {} levels deep", self.limits.max_depth),
                line: Some(line),
            });
        }
        self.nodes += 1;
        self.stack.push(Frame { open, anchor, size: 1 });
        Ok(None)
    }

    fn close(&mut self, line: usize) -> Result<Option<T>, YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Err(YamlError { message: "a collection ends that never started".into(), line: Some(line) });
        };
        let node = match frame.open {
            Open::List(items) => T::list(items),
            Open::Map(entries, _) => T::map(entries),
        };
        self.node(node, frame.size, frame.anchor, false)
    }

    /// A finished node: into its parent, or the document's root when there is none.
    fn node(
        &mut self,
        node: T,
        size: usize,
        anchor: Option<String>,
        is_merge_key: bool,
    ) -> Result<Option<T>, YamlError> {
        if let Some(anchor) = anchor {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(parent) = self.stack.last_mut() else { return Ok(Some(node)) };
        parent.size += size;
        match &mut parent.open {
            Open::List(items) => items.push(node),
            Open::Map(_, pending @ None) => *pending = Some((node, is_merge_key)),
            Open::Map(entries, pending @ Some(_)) => {
                if let Some((key, merge)) = pending.take() {
                    if merge {
                        merge_into(entries, key, node);
                    } else {
                        entries.push((key, node));
                    }
                }
            }
        }
        Ok(None)
    }
}

/// Psych's merge key: `<<: map` sets the map's keys (replacing earlier ones), and `<<: [a, b]`
/// the keys of its maps, an earlier map winning over a later one. Any other value, or a list with
/// something other than maps in it, is an ordinary `<<` key.
fn merge_into<T: Tree>(entries: &mut Vec<(T, T)>, key: T, value: T) {
    let maps = match value.into_entries() {
        Ok(map) => vec![map],
        Err(other) => match other.into_items() {
            Ok(items) if items.iter().all(|item| item.clone().into_entries().is_ok()) => {
                items.into_iter().rev().filter_map(|item| item.into_entries().ok()).collect()
            }
            Ok(items) => {
                entries.push((key, T::list(items)));
                return;
            }
            Err(other) => {
                entries.push((key, other));
                return;
            }
        },
    };
    for (k, v) in maps.into_iter().flatten() {
        match entries.iter_mut().rev().find(|(old, _)| *old == k) {
            Some((_, old)) => *old = v,
            None => entries.push((k, v)),
        }
    }
}

/// One libyaml event, copied out of the parser.
enum Event {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias(String),
    Scalar { value: String, plain: bool, tag: Option<String>, anchor: Option<String> },
    SequenceStart { anchor: Option<String> },
    SequenceEnd,
    MappingStart { anchor: Option<String> },
    MappingEnd,
}

/// libyaml's parser over a borrowed text. The parser points into the text and at itself, so it
/// lives in a box that never moves, and the text outlives it.
struct EventReader<'a> {
    parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    text: PhantomData<&'a str>,
}

impl<'a> EventReader<'a> {
    fn new(text: &'a str) -> Result<EventReader<'a>, YamlError> {
        let mut parser = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        let raw = parser.as_mut_ptr();
        // SAFETY: `raw` points at boxed memory for a parser; `initialize` fills it in (or fails
        // after a failed allocation, leaving nothing to free). The text is borrowed for `'a`, as
        // long as the reader, which deletes the parser when dropped.
        unsafe {
            if unsafe_libyaml::yaml_parser_initialize(raw).fail {
                return Err(YamlError { message: "out of memory".into(), line: None });
            }
            unsafe_libyaml::yaml_parser_set_encoding(raw, unsafe_libyaml::YAML_UTF8_ENCODING);
            unsafe_libyaml::yaml_parser_set_input_string(raw, text.as_ptr(), text.len() as u64);
        }
        Ok(EventReader { parser, text: PhantomData })
    }

    /// The next event and its 1-based line.
    fn next(&mut self) -> Result<(Event, usize), YamlError> {
        let raw = self.parser.as_mut_ptr();
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser was initialized in `new`. A parser that failed once is not asked
        // again (libyaml's rule). After a successful `parse` the event is initialized; it is
        // copied out, then deleted exactly once.
        unsafe {
            let failed_before = (&*raw).error != unsafe_libyaml::YAML_NO_ERROR;
            if failed_before || unsafe_libyaml::yaml_parser_parse(raw, event.as_mut_ptr()).fail {
                return Err(parse_error(raw));
            }
            let event = event.as_mut_ptr();
            let line = (*event).start_mark.line as usize + 1;
            let copied = copy_event(&*event);
            unsafe_libyaml::yaml_event_delete(event);
            Ok((copied, line))
        }
    }
}

impl Drop for EventReader<'_> {
    fn drop(&mut self) {
        // SAFETY: initialized in `new` (a reader exists only then), deleted only here.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

/// libyaml's problem, worded as serde_yaml worded it, with its line.
///
/// # Safety
/// `parser` is an initialized parser.
unsafe fn parse_error(parser: *const unsafe_libyaml::yaml_parser_t) -> YamlError {
    // SAFETY: as the caller promises.
    let parser = unsafe { &*parser };
    // SAFETY: libyaml's problem and context are static C strings or null.
    let (problem, context) = unsafe { (c_text(parser.problem.cast()), c_text(parser.context.cast())) };
    let mark = parser.problem_mark;
    let mut message = problem.unwrap_or_else(|| "libyaml failed without saying why".into());
    if let Some(context) = context {
        message = format!("{message}, {context}");
    }
    YamlError { message, line: Some(mark.line as usize + 1) }
}

/// # Safety
/// `ptr` is null or a NUL-terminated string that outlives the call.
unsafe fn c_text(ptr: *const std::ffi::c_char) -> Option<String> {
    // SAFETY: as the caller promises.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
}

/// # Safety
/// `event` came from a successful `yaml_parser_parse` and is not deleted yet.
unsafe fn copy_event(event: &unsafe_libyaml::yaml_event_t) -> Event {
    // SAFETY: the union member read is the one the event's type says is set; libyaml's anchors
    // and tags are NUL-terminated, and a scalar's value is `length` bytes.
    unsafe {
        match event.type_ {
            unsafe_libyaml::YAML_STREAM_START_EVENT => Event::StreamStart,
            unsafe_libyaml::YAML_STREAM_END_EVENT => Event::StreamEnd,
            unsafe_libyaml::YAML_DOCUMENT_START_EVENT => Event::DocumentStart,
            unsafe_libyaml::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
            unsafe_libyaml::YAML_ALIAS_EVENT => {
                Event::Alias(c_text(event.data.alias.anchor.cast()).unwrap_or_default())
            }
            unsafe_libyaml::YAML_SCALAR_EVENT => {
                let scalar = &event.data.scalar;
                let bytes = std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                Event::Scalar {
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    plain: scalar.style == unsafe_libyaml::YAML_PLAIN_SCALAR_STYLE,
                    tag: c_text(scalar.tag.cast()),
                    anchor: c_text(scalar.anchor.cast()),
                }
            }
            unsafe_libyaml::YAML_SEQUENCE_START_EVENT => {
                Event::SequenceStart { anchor: c_text(event.data.sequence_start.anchor.cast()) }
            }
            unsafe_libyaml::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
            unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                Event::MappingStart { anchor: c_text(event.data.mapping_start.anchor.cast()) }
            }
            unsafe_libyaml::YAML_MAPPING_END_EVENT => Event::MappingEnd,
            // YAML_NO_EVENT, which comes only after the stream's end.
            _ => Event::StreamEnd,
        }
    }
}
