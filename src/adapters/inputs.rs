//! An adapter's inputs: their JSON Schemas compiled at load, and the check of a request's values
//! against them before any upstream call (a 400 naming the input otherwise).
//!
//! Values arrive as JSON (a POST execution) or as text (a query parameter): text is read as the
//! schema's type first, so that `size=5` and `"size": 5` mean the same. `format = "lonlat"`
//! takes `"lon,lat"`, `[lon, lat]` or a GeoJSON Point, and templates see `.lon` and `.lat`.

use serde_json::{json, Value};

use super::{spec::InputDecl, template::Coords};
use crate::services::{inputs::Inputs, process::InputSpec, ServiceError};

/// One declared input, ready to check values.
pub struct Input {
    pub name: String,
    pub decl: InputDecl,
    validator: jsonschema::Validator,
    lonlat: bool,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("name", &self.name).finish()
    }
}

impl Input {
    /// Compiles the input's schema; the error says why it is not a usable JSON Schema.
    pub fn compile(name: &str, decl: &InputDecl) -> Result<Self, String> {
        if !decl.schema.is_object() {
            return Err("schema: must be a table (a JSON Schema)".into());
        }
        let lonlat = decl.schema.get("format").and_then(Value::as_str) == Some("lonlat");
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(&decl.schema)
            .map_err(|e| format!("schema: not a valid JSON Schema ({e})"))?;
        if let Some(default) = decl.schema.get("default") {
            validator
                .validate(default)
                .map_err(|e| format!("schema.default: does not match the schema ({e})"))?;
        }
        Ok(Input {
            name: name.to_string(),
            decl: decl.clone(),
            validator,
            lonlat,
        })
    }

    /// The input as a process description lists it.
    pub fn spec(&self) -> InputSpec {
        let title = self.decl.title.clone().unwrap_or_else(|| self.name.clone());
        let mut schema = self.decl.schema.clone();
        if self.lonlat {
            // What clients may send besides the "lon,lat" text (described as the built-ins'
            // points are, which is how clients such as the QGIS plugin recognise a point).
            if schema.get("description").is_none() {
                schema["description"] = json!("\"lon,lat\" in WGS84");
            }
            schema = json!({"oneOf": [
                schema,
                {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                {"type": "object", "format": "geojson-geometry", "description": "a GeoJSON Point"}
            ]});
        }
        let spec = InputSpec::new(
            self.name.clone(),
            title,
            self.decl.description.clone(),
            schema,
        );
        if self.decl.required {
            spec.required()
        } else {
            spec
        }
    }

    /// The value templates see for this input in `inputs`: its default when absent, `None` when
    /// it has neither. A value the schema refuses is a 400 naming the input.
    pub fn value(&self, inputs: &Inputs) -> Result<Option<minijinja::Value>, ServiceError> {
        let given = inputs.raw(&self.name);
        if given.is_none() && self.decl.required {
            return Err(ServiceError::invalid(&self.name, "is required"));
        }
        if self.lonlat {
            return Ok(match inputs.point(&self.name)? {
                Some((lon, lat)) => {
                    self.check(&Value::String(format!("{lon},{lat}")))?;
                    Some(Coords::point(lon, lat))
                }
                None => self.default().map(to_template),
            });
        }
        let Some(given) = given else {
            return Ok(self.default().map(to_template));
        };
        let value = self.typed(given);
        self.check(&value)?;
        Ok(Some(to_template(&value)))
    }

    fn default(&self) -> Option<&Value> {
        self.decl.schema.get("default")
    }

    fn check(&self, value: &Value) -> Result<(), ServiceError> {
        self.validator.validate(value).map_err(|e| {
            let at = e.instance_path().to_string();
            let reason = if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            };
            ServiceError::invalid(&self.name, reason)
        })
    }

    /// A text value read as the schema's type where it reads as one (numbers, booleans, JSON
    /// arrays and objects); anything else as it came.
    fn typed(&self, given: &Value) -> Value {
        let Value::String(text) = given else {
            return given.clone();
        };
        let text = text.trim();
        let wanted = self.decl.schema.get("type").and_then(Value::as_str);
        let parsed = match wanted {
            Some("integer") | Some("number") => text.parse::<f64>().ok().map(|n| {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            }),
            Some("boolean") => match text {
                "true" | "1" => Some(json!(true)),
                "false" | "0" => Some(json!(false)),
                _ => None,
            },
            Some("array") | Some("object") => serde_json::from_str(text).ok(),
            _ => None,
        };
        parsed.unwrap_or_else(|| given.clone())
    }
}

/// A JSON value as templates see it.
fn to_template(value: &Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(toml_text: &str) -> Input {
        let decl: InputDecl = toml::from_str(toml_text).unwrap();
        Input::compile("x", &decl).unwrap()
    }

    fn given(v: Value) -> Inputs {
        let mut m = serde_json::Map::new();
        m.insert("x".into(), v);
        m.into()
    }

    #[test]
    fn text_is_read_as_the_schema_type() {
        let i = input("schema = { type = \"integer\", minimum = 1, maximum = 50 }");
        let v = i.value(&given(json!("5"))).unwrap().unwrap();
        assert_eq!(v.to_string(), "5");
        let err = i.value(&given(json!("500"))).unwrap_err().to_string();
        assert!(err.starts_with("x: ") && err.contains("50"), "{err}");
        assert!(i.value(&given(json!("five"))).is_err());
    }

    #[test]
    fn enums_and_defaults() {
        let i = input("schema = { type = \"string\", enum = [\"a\", \"b\"], default = \"a\" }");
        assert_eq!(
            i.value(&Inputs::default()).unwrap().unwrap().to_string(),
            "a"
        );
        assert!(i.value(&given(json!("c"))).is_err());
        let bad: InputDecl =
            toml::from_str("schema = { type = \"string\", enum = [\"a\"], default = \"z\" }")
                .unwrap();
        assert!(Input::compile("x", &bad).unwrap_err().contains("default"));
    }

    #[test]
    fn lonlat_takes_every_point_form() {
        let i = input("schema = { type = \"string\", format = \"lonlat\" }\nrequired = true");
        for v in [
            json!("3.5,44.25"),
            json!([3.5, 44.25]),
            json!({"type": "Point", "coordinates": [3.5, 44.25]}),
        ] {
            assert_eq!(
                i.value(&given(v)).unwrap().unwrap().to_string(),
                "3.5,44.25"
            );
        }
        assert!(i
            .value(&given(json!("3.5,95")))
            .unwrap_err()
            .to_string()
            .contains("latitude"));
        assert!(i
            .value(&Inputs::default())
            .unwrap_err()
            .to_string()
            .contains("required"));
    }

    #[test]
    fn remote_references_are_not_followed() {
        let decl: InputDecl =
            toml::from_str("schema = { \"$ref\" = \"http://127.0.0.1:1/schema.json\" }").unwrap();
        assert!(Input::compile("x", &decl).is_err());
    }
}
