//! The request templates of an adapter (minijinja, Jinja2 syntax), compiled once at load and
//! rendered with the validated inputs. Rendering is bounded (fuel, recursion) so that no template
//! can stall a request.

use std::{fmt, sync::Arc};

use minijinja::{
    value::{Enumerator, Object, ObjectRepr},
    AutoEscape, Environment, UndefinedBehavior, Value,
};

/// The most instructions one rendering may take (a loop over a huge range stops there).
const FUEL: u64 = 100_000;

/// An adapter's templates, by name (`path`, `body`, `query.<name>`, `header.<name>`).
pub struct Templates(Environment<'static>);

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(32);
        Templates(env)
    }

    /// Compiles `source` under `name`; the error says where the syntax is wrong.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), String> {
        self.0
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(describe)
    }

    /// Renders template `name` with `context`.
    pub fn render(&self, name: &str, context: &Value) -> Result<String, String> {
        self.0
            .get_template(name)
            .and_then(|t| t.render(context))
            .map_err(describe)
    }

    /// Whether template `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.0.get_template(name).is_ok()
    }
}

fn describe(e: minijinja::Error) -> String {
    match (e.detail(), e.line()) {
        (Some(detail), Some(line)) => format!("{} (line {line}): {detail}", e.kind()),
        (Some(detail), None) => format!("{}: {detail}", e.kind()),
        _ => e.to_string(),
    }
}

/// Numbers with names, as templates see a point (`.lon .lat`) or a box (`.west .south .east
/// .north`); written alone they render as the numbers joined by commas.
#[derive(Debug)]
pub struct Coords {
    names: &'static [&'static str],
    values: Vec<f64>,
}

impl Coords {
    pub fn point(lon: f64, lat: f64) -> Value {
        Value::from_object(Coords {
            names: &["lon", "lat"],
            values: vec![lon, lat],
        })
    }

    pub fn bbox(west: f64, south: f64, east: f64, north: f64) -> Value {
        Value::from_object(Coords {
            names: &["west", "south", "east", "north"],
            values: vec![west, south, east, north],
        })
    }
}

impl Object for Coords {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let at = self.names.iter().position(|n| *n == key)?;
        Some(Value::from(self.values[at]))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(self.names)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_render_alone_and_by_field() {
        let mut t = Templates::new();
        t.add("q", "{{ p }} {{ p.lon }}/{{ p.lat }} {{ missing.field }}|")
            .unwrap();
        let ctx = minijinja::context! { p => Coords::point(3.5, 44.25) };
        assert_eq!(t.render("q", &ctx).unwrap(), "3.5,44.25 3.5/44.25 |");
    }

    #[test]
    fn a_runaway_template_stops() {
        let mut t = Templates::new();
        t.add(
            "q",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        )
        .unwrap();
        let err = t.render("q", &minijinja::context! {}).unwrap_err();
        assert!(err.contains("fuel"), "{err}");
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = Templates::new().add("q", "ok\n{{ a ").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn values_go_to_json_with_tojson() {
        let mut t = Templates::new();
        t.add("b", r#"{"text": {{ text | tojson }}}"#).unwrap();
        let out = t
            .render("b", &minijinja::context! { text => "a \"quoted\" word" })
            .unwrap();
        assert_eq!(out, r#"{"text": "a \"quoted\" word"}"#);
    }
}
