//! Which mesh config an analysis uses: an explicit file, else the `istio` ConfigMap in
//! `istio-system` among the inputs, else Istio's defaults — and what is wrong with it.

use crate::message::Message;
use crate::messages;
use std::path::Path;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::yaml::FieldPath;
use verimesh_config::{Level, Loaded, Origin, Resource};

pub struct MeshSource {
    pub mesh: MeshConfig,
    pub messages: Vec<Message>,
    /// The explicit file could not be read at all.
    pub unusable: bool,
}

pub fn resolve(loaded: &Loaded, explicit: Option<&Path>) -> MeshSource {
    let mut src = MeshSource {
        mesh: MeshConfig::default(),
        messages: Vec::new(),
        unusable: false,
    };
    if let Some(path) = explicit {
        let name = path.display().to_string();
        let origin = Origin {
            file: name.as_str().into(),
            pos: Default::default(),
        };
        match std::fs::read_to_string(path) {
            Err(e) => {
                src.unusable = true;
                src.messages.push(Message {
                    kind: messages::UNUSABLE_INPUT,
                    text: format!("cannot read mesh config: {e}"),
                    resource: None,
                    origin: Some(origin),
                });
            }
            Ok(text) => {
                let tree = verimesh_config::yaml::parse_documents(&text)
                    .ok()
                    .and_then(|docs| docs.into_iter().flatten().next());
                let place = |field: &str| {
                    let mut o = origin.clone();
                    if let Some(t) = &tree {
                        o.pos = t.pos_of(&FieldPath::parse(field));
                    }
                    o
                };
                accept(
                    &mut src,
                    MeshConfig::from_yaml_str(&name, &text),
                    &place,
                    None,
                );
            }
        }
        return src;
    }
    let config_map = loaded
        .resources
        .iter()
        .find_map(|r| MeshConfig::from_config_map(r).map(|m| (r, m)));
    if let Some((res, parsed)) = config_map {
        let place = |_: &str| res.origin_of("data.mesh");
        accept(&mut src, parsed, &place, Some(res));
    }
    src
}

fn accept(
    src: &mut MeshSource,
    parsed: Result<MeshConfig, Vec<verimesh_config::Diagnostic>>,
    place: &dyn Fn(&str) -> Origin,
    res: Option<&Resource>,
) {
    match parsed {
        Err(diags) => src.messages.extend(crate::load_messages(&diags)),
        Ok(mesh) => {
            for issue in mesh.validate().items {
                let kind = if issue.level == Level::Error {
                    messages::SCHEMA_VALIDATION_ERROR
                } else {
                    messages::SCHEMA_WARNING
                };
                src.messages.push(Message {
                    kind,
                    text: format!("mesh config {}: {}", issue.path, issue.message),
                    resource: res.map(Resource::reference),
                    origin: Some(place(&issue.path.to_string())),
                });
            }
            for field in mesh.unmodeled_fields() {
                src.messages.push(Message {
                    kind: messages::UNMODELED_MESH_CONFIG_FIELD,
                    text: format!(
                        "mesh config field {field:?} is not supported by verimesh and has no effect"
                    ),
                    resource: res.map(Resource::reference),
                    origin: Some(place(&field)),
                });
            }
            src.mesh = mesh;
        }
    }
}
