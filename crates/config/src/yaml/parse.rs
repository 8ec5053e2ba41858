//! Builds [`Node`] trees from saphyr-parser events, one per YAML document.

use super::{Key, Node, Pos, Value};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Nesting deeper than this is refused: no real configuration needs it, and every later walk over
/// the tree is recursive.
const MAX_DEPTH: usize = 128;
/// Alias expansion copies nodes; this bounds the total so a "billion laughs" document cannot
/// exhaust memory.
const MAX_EXPANDED_NODES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
}

impl Builder {
    fn new() -> Self {
        Builder {
            stack: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
        }
    }

    /// Places a finished node into its parent; returns it when it is the document root.
    fn push_node(&mut self, node: Node) -> Result<Option<Node>, YamlError> {
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match &node.value {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Null => "null".to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError {
                                pos: node.pos,
                                message: "a mapping key must be a scalar, not a list or mapping"
                                    .into(),
                            })
                        }
                    };
                    if entries.iter().any(|(k, _)| k.name == name) {
                        return Err(YamlError {
                            pos: node.pos,
                            message: format!("duplicate key {name:?} in mapping"),
                        });
                    }
                    *pending_key = Some(Key {
                        name,
                        pos: node.pos,
                    });
                    Ok(None)
                }
                Some(key) => {
                    entries.push((key, node));
                    Ok(None)
                }
            },
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| count_nodes(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema; quoted scalars are always strings.
fn resolve_scalar(text: &str, style: ScalarStyle, explicit_str: bool) -> Value {
    if style != ScalarStyle::Plain || explicit_str {
        return Value::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let bytes = text.as_bytes();
    let numeric_start = bytes
        .first()
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'));
    if numeric_start {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        let looks_float = text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
            && text.bytes().any(|b| b.is_ascii_digit());
        if looks_float {
            if let Ok(f) = text.parse::<f64>() {
                return Value::Float(f);
            }
        }
    }
    Value::Str(text.to_string())
}

/// Parses every document of a YAML stream. Empty documents yield `None` so that document
/// indices stay meaningful; a syntax error ends the stream (the scanner cannot resynchronize).
pub fn parse_documents(text: &str) -> Result<Vec<Option<Node>>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut b = Builder::new();
    let mut current: Option<Node> = None;
    let mut in_doc = false;
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| YamlError {
            pos: Pos {
                line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                col: u32::try_from(e.marker().col() + 1).unwrap_or(u32::MAX),
            },
            message: e.info().to_string(),
        })?;
        let pos = pos_of(&span);
        let finished = match event {
            Event::StreamStart | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                in_doc = true;
                b = Builder::new();
                current = None;
                None
            }
            Event::DocumentEnd => {
                if in_doc {
                    // An empty document (`---` followed by nothing) parses as a null scalar.
                    docs.push(current.take().filter(|n| !n.is_null()));
                }
                in_doc = false;
                None
            }
            Event::Alias(id) => {
                let node = b.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    pos,
                    message: "alias refers to an unknown anchor".into(),
                })?;
                b.expanded += count_nodes(&node);
                if b.expanded > MAX_EXPANDED_NODES {
                    return Err(YamlError {
                        pos,
                        message: format!(
                            "aliases expand to more than {MAX_EXPANDED_NODES} nodes; refusing"
                        ),
                    });
                }
                b.push_node(Node { pos, ..node })?
            }
            Event::Scalar(text, style, anchor, tag) => {
                let explicit_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let node = Node {
                    pos,
                    value: resolve_scalar(&text, style, explicit_str),
                };
                b.remember(anchor, &node);
                b.push_node(node)?
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if b.stack.len() >= MAX_DEPTH {
                    return Err(YamlError {
                        pos,
                        message: format!("nesting deeper than {MAX_DEPTH} levels; refusing"),
                    });
                }
                let frame = if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                    }
                };
                b.stack.push(frame);
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    None => {
                        return Err(YamlError {
                            pos,
                            message: "unbalanced end of collection".into(),
                        })
                    }
                };
                b.remember(anchor, &node);
                b.push_node(node)?
            }
        };
        if let Some(root) = finished {
            current = Some(root);
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_types() {
        let docs =
            parse_documents("a: 1\nb:\n  - x\n  - 'y'\nc: true\n---\n---\nz: 1.5\n").unwrap();
        assert_eq!(docs.len(), 3);
        let d = docs[0].as_ref().unwrap();
        assert_eq!(d.get("a").unwrap().value, Value::Int(1));
        assert_eq!(d.key_pos("b").unwrap(), Pos { line: 2, col: 1 });
        let b = d.get("b").unwrap();
        let Value::Seq(items) = &b.value else {
            panic!("not a seq")
        };
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
        assert!(docs[1].is_none());
        assert_eq!(
            docs[2].as_ref().unwrap().get("z").unwrap().value,
            Value::Float(1.5)
        );
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let docs = parse_documents("v: \"1\"\nw: 0x10\nx: !!str 12\n").unwrap();
        let d = docs[0].as_ref().unwrap();
        assert_eq!(d.get("v").unwrap().value, Value::Str("1".into()));
        assert_eq!(d.get("w").unwrap().value, Value::Int(16));
        assert_eq!(d.get("x").unwrap().value, Value::Str("12".into()));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate key"), "{err}");
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        assert!(parse_documents(&deep).is_err());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb += &format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n");
        }
        let err = parse_documents(&bomb).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err}");
    }
}
