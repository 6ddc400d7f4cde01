//! Loading and checking adapter files: every broken file is named with its key and reason.

use super::*;

fn compile_text(text: &str) -> Result<Adapter, Problem> {
    let taken = HashSet::from(["elevation".to_string()]);
    let buckets = Mutex::default();
    compile(
        "t.toml",
        text,
        &Checks {
            taken: &taken,
            buckets: &buckets,
        },
    )
}

const MINIMAL: &str = r#"
id = "x"
kind = "process"
title = "X"
api = "altimetry"
[request]
path = "/altimetrie/x.json"
query = { lon = "{{ point.lon }}", lat = "{{ point.lat }}", opt = "{{ missing }}" }
[inputs.point]
schema = { type = "string", format = "lonlat" }
required = true
[response]
features = "$.elevations[*]"
"#;

#[test]
fn the_shipped_adapters_all_load() {
    let loaded = load(
        &Sources {
            shipped: true,
            dir: None,
        },
        &HashSet::new(),
        &Mutex::default(),
    );
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.adapters.len(), SHIPPED.len());
}

#[test]
fn a_request_is_rendered_with_empty_parameters_left_out() {
    let a = compile_text(MINIMAL).unwrap();
    let inputs: crate::services::inputs::Inputs = [("point", "3.5,44.25")].into_iter().collect();
    let vars = a.variables(&inputs).unwrap();
    let r = a.request(&vars).unwrap();
    assert_eq!(r.path, "/altimetrie/x.json");
    assert_eq!(r.api, Api::Altimetry);
    assert_eq!(
        r.query,
        vec![
            ("lon".to_string(), "3.5".to_string()),
            ("lat".to_string(), "44.25".to_string())
        ]
    );
    assert!(r.body.is_none());
}

#[test]
fn problems_name_the_key_and_the_reason() {
    let cases: [(&str, &str, &str); 9] = [
        ("id = \"elevation\"", "id", "already taken"),
        ("id = \"Bad Id\"", "id", "lowercase"),
        ("api = \"nowhere\"", "api", "quota"),
        (
            "path = \"https://evil.example/x\"",
            "request.path",
            "start with one '/'",
        ),
        ("path = \"/altimetrie/../../x\"", "request.path", ".."),
        ("features = \"$.[\"", "response.features", "JSONPath"),
        (
            "schema = { type = \"string\", format = \"lonlat\" }",
            "inputs.point",
            "",
        ),
        (
            "query = { lon = \"{{ point.lon \" }",
            "request.query.lon",
            "line 1",
        ),
        (
            "title = \"X\"\nmetod = \"GET\"",
            "line",
            "unknown field `metod`",
        ),
    ];
    for (replacement, key, reason) in cases {
        let field = replacement.split(' ').next().unwrap();
        let text: String = MINIMAL
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{field} ")) {
                    replacement.to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        if key == "inputs.point" {
            // A schema that is fine: this case checks that the minimal file stays valid.
            assert!(compile_text(&text).is_ok());
            continue;
        }
        let p = compile_text(&text).expect_err(replacement);
        assert_eq!(p.file, "t.toml");
        assert!(p.key.starts_with(key), "{replacement}: key {:?}", p.key);
        assert!(p.reason.contains(reason), "{replacement}: {}", p.reason);
    }
}

#[test]
fn a_new_bucket_needs_a_quota_and_is_shared_by_name() {
    let taken = HashSet::new();
    let buckets = Mutex::default();
    let text = MINIMAL.replace("api = \"altimetry\"", "api = \"newapi\"\nquota = 3");
    let a = compile(
        "a.toml",
        &text,
        &Checks {
            taken: &taken,
            buckets: &buckets,
        },
    )
    .unwrap();
    let b = compile(
        "b.toml",
        &text.replace("id = \"x\"", "id = \"y\""),
        &Checks {
            taken: &taken,
            buckets: &buckets,
        },
    )
    .unwrap();
    assert_eq!(a.api, Api::Adapter);
    assert!(Arc::ptr_eq(
        a.bucket.as_ref().unwrap(),
        b.bucket.as_ref().unwrap()
    ));
}

#[test]
fn a_folder_with_a_broken_file_keeps_the_others() {
    let dir = std::env::temp_dir().join(format!("geopf-adapters-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.toml"), MINIMAL).unwrap();
    std::fs::write(dir.join("b.toml"), "id = ").unwrap();
    std::fs::write(
        dir.join("c.toml"),
        MINIMAL.replace("id = \"x\"", "id = \"z\""),
    )
    .unwrap();
    std::fs::write(dir.join("d.toml"), MINIMAL).unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let loaded = load(
        &Sources {
            shipped: false,
            dir: Some(dir.clone()),
        },
        &HashSet::new(),
        &Mutex::default(),
    );
    let ids: Vec<_> = loaded.adapters.iter().map(|a| a.id().to_string()).collect();
    assert_eq!(ids, ["x", "z"]);
    assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
    assert!(loaded.problems[0].file.ends_with("b.toml"));
    assert!(
        loaded.problems[1].file.ends_with("d.toml")
            && loaded.problems[1].reason.contains("already taken")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_path_input_cannot_leave_the_api() {
    let text = MINIMAL
        .replace(
            "path = \"/altimetrie/x.json\"",
            "path = \"/recherche/api/documents/{{ doc }}\"",
        )
        .replace(
            "[inputs.point]",
            "[inputs.doc]\nschema = { type = \"string\" }\n[inputs.point]",
        );
    let a = compile_text(&text).unwrap();
    let ok: crate::services::inputs::Inputs =
        [("point", "1,2"), ("doc", "a b?c")].into_iter().collect();
    assert_eq!(
        a.request(&a.variables(&ok).unwrap()).unwrap().path,
        "/recherche/api/documents/a%20b%3Fc"
    );
    let bad: crate::services::inputs::Inputs = [("point", "1,2"), ("doc", "../../../etc")]
        .into_iter()
        .collect();
    let err = a
        .request(&a.variables(&bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("leaves the API"), "{err}");
}
