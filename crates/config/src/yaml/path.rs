//! Field paths like `spec.http[0].route[1].weight`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Field(String),
    Index(usize),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<PathSegment>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn from_segments(segs: Vec<PathSegment>) -> Self {
        FieldPath(segs)
    }

    /// Parses the dotted form; `a.b[2].c`. Keys containing dots cannot be expressed, which is
    /// fine for paths we build ourselves.
    pub fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                segs.push(PathSegment::Field(name.to_string()));
            }
            while let Some(end) = rest.find(']') {
                if let Ok(i) = rest[1..end].parse() {
                    segs.push(PathSegment::Index(i));
                }
                rest = &rest[end + 1..];
            }
        }
        FieldPath(segs)
    }

    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    pub fn field(&self, name: &str) -> Self {
        let mut p = self.clone();
        p.0.push(PathSegment::Field(name.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(PathSegment::Index(i));
        p
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                PathSegment::Field(name) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                PathSegment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = FieldPath::parse("spec.http[0].route[1].weight");
        assert_eq!(p.segments().len(), 6);
        assert_eq!(p.to_string(), "spec.http[0].route[1].weight");
        assert_eq!(FieldPath::root().field("a").index(3).to_string(), "a[3]");
    }
}
