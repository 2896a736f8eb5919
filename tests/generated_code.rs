//! The generated code of every raw crate, as insta snapshots (updated by `cargo xtask regen`).

use apikley_codegen::{ApiChange, PublicApi, RawCrate};
use apikley_tests::{openapi_dir, workspace};

/// Every raw crate: the shared endpoints' and one per registered model (a model added with
/// `cargo xtask new-model` is one more).
fn raw_crates() -> Vec<RawCrate> {
    let crates = RawCrate::discover(&workspace()).expect("raw crates are discoverable");
    let names: Vec<_> = crates.iter().map(RawCrate::name).collect();
    for expected in ["apikley-raw", "seedance-raw"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let registry = std::fs::read_to_string(workspace().join("crates/apikley-models/Cargo.toml"))
        .expect("the registry's manifest");
    for name in names.iter().filter(|n| **n != "apikley-raw") {
        assert!(
            registry.contains(&format!("\n{name}.workspace = true")),
            "{name} is not registered in apikley-models"
        );
    }
    crates
}

/// Fails when a spec or patch changed without `cargo xtask regen`: the snapshot is what reviewers
/// read, and it must be what the build script generates.
#[test]
fn generated_code_matches_snapshots() {
    for krate in raw_crates() {
        let code = krate.generate(&openapi_dir()).expect("code generates");
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("generated__{}", krate.name()), code);
        });
    }
}

/// The xtask writes snapshots in the form this test reads.
#[test]
fn snapshot_files_round_trip_through_the_xtask_format() {
    for krate in raw_crates() {
        let code = krate.generate(&openapi_dir()).expect("code generates");
        let file = xtask::regen::snapshot_file(&code);
        assert_eq!(xtask::regen::snapshot_contents(&file), code.trim_end());
    }
}

/// Each raw crate builds from its own copy of the specs (so that it can be published); the copy
/// must be the workspace's, byte for byte.
#[test]
fn package_copies_equal_the_workspace_specs() {
    for krate in raw_crates() {
        for (workspace_spec, package_spec) in krate
            .specs_in(&openapi_dir())
            .iter()
            .zip(krate.package_specs())
        {
            let inputs = workspace_spec.inputs().expect("spec inputs list");
            let copies = package_spec.inputs().expect("package inputs list");
            assert_eq!(
                inputs.len(),
                copies.len(),
                "{}: patch files differ in number",
                krate.name()
            );
            for (input, copy) in inputs.iter().zip(&copies) {
                let a = std::fs::read(input).expect("workspace file reads");
                let b = std::fs::read(copy).expect("package copy reads");
                assert!(
                    a == b,
                    "{} differs from {}: run `cargo xtask regen`",
                    copy.display(),
                    input.display()
                );
            }
        }
    }
}

/// Proves the snapshot can fail: editing one enum value of the vendored spec changes the
/// generated code, and the API summary names the variant that went and the one that came.
#[test]
fn an_edited_enum_value_changes_the_generated_code() {
    let copy = tempfile::tempdir().expect("temp dir");
    let openapi = copy.path().join("openapi");
    let spec = apikley_codegen::Spec::new(openapi_dir(), "seedance-1.5-pro.json");
    for file in spec.inputs().expect("inputs list") {
        let relative = file.strip_prefix(openapi_dir()).expect("inside openapi/");
        let target = openapi.join(relative);
        std::fs::create_dir_all(target.parent().expect("has a parent")).expect("mkdir");
        std::fs::copy(&file, &target).expect("copy");
    }
    let mut value = spec.load().expect("spec loads");
    let ratios = value
        .pointer_mut(
            "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json\
             /schema/properties/input/properties/aspect_ratio/enum",
        )
        .and_then(|v| v.as_array_mut())
        .expect("aspect ratios");
    let last = ratios.last_mut().expect("at least one ratio");
    *last = format!("{}0", last.as_str().expect("a string")).into();
    std::fs::write(
        openapi.join("seedance-1.5-pro.json"),
        serde_json::to_string_pretty(&value).expect("encodes"),
    )
    .expect("spec writes");

    let original = spec.generate().expect("original generates");
    let edited = spec.in_dir(&openapi).generate().expect("edited generates");
    assert_ne!(original, edited);

    let changes = PublicApi::parse(&original)
        .expect("parses")
        .diff(&PublicApi::parse(&edited).expect("parses"));
    match changes.as_slice() {
        [ApiChange::Changed(_, name, details)] => {
            assert_eq!(name, "BytedanceSeedance15ProBodyInputAspectRatio");
            assert_eq!(details.len(), 2, "{details:?}");
            assert!(details[0].starts_with("-variant ") && details[1].starts_with("+variant "));
        }
        other => panic!("expected one changed enum, got {other:#?}"),
    }
}

mod schema_fidelity {
    //! The schemars schema of the generated Seedance request types against the vendored spec:
    //! same properties, required fields, types, enum values, defaults and length bounds.

    use std::collections::BTreeSet;

    use apikley_tests::{at, same_json, spec};
    use schemars::JsonSchema;
    use seedance_raw::types as seedance;
    use serde_json::{Map, Value, json};

    /// Compared in both directions. Not compared: prose (`description`, `example`), and the two
    /// keywords typify does not carry into types, `format: uri` and `maxItems` (the runtime's
    /// validation from the spec enforces those; `the_spec_still_needs_runtime_checks` pins them).
    const KEYWORDS: [&str; 8] = [
        "type",
        "enum",
        "default",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "pattern",
    ];

    struct Generated {
        root: Value,
        definitions: Map<String, Value>,
    }

    fn generated<T: JsonSchema>() -> Generated {
        let root = schemars::r#gen::SchemaSettings::openapi3()
            .into_generator()
            .into_root_schema_for::<T>();
        let mut root = serde_json::to_value(root).expect("schema encodes");
        let definitions = match root.as_object_mut().and_then(|o| o.remove("definitions")) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Generated { root, definitions }
    }

    impl Generated {
        /// Follows `$ref` and single-element `allOf` wrappers, keeping the wrapper's keywords.
        fn resolve(&self, schema: &Value) -> Map<String, Value> {
            let mut own = schema.as_object().cloned().unwrap_or_default();
            let target = own.remove("$ref").or_else(|| match own.remove("allOf") {
                Some(Value::Array(mut all)) if all.len() == 1 => all.pop(),
                Some(other) => {
                    own.insert("allOf".into(), other);
                    None
                }
                None => None,
            });
            let Some(target) = target else { return own };
            let target = match target.as_str() {
                Some(reference) => {
                    let name = reference.rsplit('/').next().unwrap_or(reference);
                    self.definitions.get(name).cloned().unwrap_or(Value::Null)
                }
                None => target,
            };
            let mut resolved = self.resolve(&target);
            resolved.extend(own);
            resolved
        }
    }

    fn required(schema: &Map<String, Value>) -> BTreeSet<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Compares one spec schema with the generated one, collecting every difference.
    fn compare(
        path: &str,
        spec: &Value,
        generated: &Map<String, Value>,
        schemas: &Generated,
        required_defaults: &[(&str, Value)],
        problems: &mut Vec<String>,
    ) {
        let spec = spec.as_object().cloned().unwrap_or_default();
        for keyword in KEYWORDS {
            let ours = spec.get(keyword);
            let theirs = generated.get(keyword);
            // Numbers compare by value: a bound of `0` is the type's `0.0`.
            if ours == theirs || ours.zip(theirs).is_some_and(|(a, b)| same_json(a, b)) {
                continue;
            }
            // A default on a required property never applies on the wire; typify puts it in
            // the type's `Default` impl instead of the schema.
            if keyword == "default"
                && theirs.is_none()
                && required_defaults
                    .iter()
                    .any(|(p, value)| *p == path && Some(value) == ours)
            {
                continue;
            }
            problems.push(format!(
                "{path}: {keyword} is {ours:?} in the spec, {theirs:?} in the type"
            ));
        }

        let spec_required = required(&spec);
        if spec_required != required(generated) {
            problems.push(format!(
                "{path}: required {spec_required:?} in the spec, {:?} in the type",
                required(generated)
            ));
        }

        let empty = Map::new();
        let spec_properties = spec
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let properties = generated
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let names: BTreeSet<&String> = spec_properties.keys().chain(properties.keys()).collect();
        for name in names {
            let child = format!("{path}.{name}");
            match (spec_properties.get(name), properties.get(name)) {
                (Some(ours), Some(theirs)) => {
                    let mut theirs = schemas.resolve(theirs);
                    // Optional fields are `Option`s, skipped when `None`: never sent as null.
                    if !spec_required.contains(name.as_str()) {
                        theirs.remove("nullable");
                    }
                    compare(&child, ours, &theirs, schemas, required_defaults, problems);
                }
                (ours, _) => problems.push(format!(
                    "{child}: only in the {}",
                    if ours.is_some() { "spec" } else { "type" }
                )),
            }
        }

        if let Some(items) = spec.get("items") {
            match generated.get("items") {
                Some(theirs) => {
                    let theirs = schemas.resolve(theirs);
                    compare(
                        &format!("{path}[]"),
                        items,
                        &theirs,
                        schemas,
                        required_defaults,
                        problems,
                    );
                }
                None => problems.push(format!("{path}: the type has no items schema")),
            }
        }
    }

    /// Spec defaults of required properties, as the generated types' `Default` impls have them.
    fn required_defaults() -> Vec<(&'static str, Value)> {
        let json = |value: Result<Value, serde_json::Error>| value.expect("encodes");
        vec![
            (
                "body.model",
                json(serde_json::to_value(
                    seedance::BytedanceSeedance15ProBodyModel::default(),
                )),
            ),
            (
                "body.input.aspect_ratio",
                json(serde_json::to_value(
                    seedance::BytedanceSeedance15ProBodyInputAspectRatio::default(),
                )),
            ),
        ]
    }

    fn request_schema() -> Value {
        at(
            &spec("seedance-1.5-pro.json"),
            "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json/schema",
        )
        .clone()
    }

    fn differences(spec: &Value) -> Vec<String> {
        let schemas = generated::<seedance::BytedanceSeedance15ProBody>();
        let root = schemas.resolve(&schemas.root);
        let mut problems = Vec::new();
        compare(
            "body",
            spec,
            &root,
            &schemas,
            &required_defaults(),
            &mut problems,
        );
        problems
    }

    #[test]
    fn the_generated_request_schema_matches_the_spec() {
        let problems = differences(&request_schema());
        assert!(
            problems.is_empty(),
            "schema drift:\n{}",
            problems.join("\n")
        );
    }

    /// The comparison itself can fail: each kind of drift in the spec is reported. Each drift
    /// is made relative to the current spec, so the test holds whatever the spec says.
    #[test]
    fn drift_in_the_spec_is_reported() {
        type Drift = fn(&mut Value);
        let drifts: [(&str, Drift); 7] = [
            ("body.input.aspect_ratio: enum", |s| {
                let ratios = s["properties"]["input"]["properties"]["aspect_ratio"]["enum"]
                    .as_array_mut()
                    .expect("enum");
                ratios.push(json!("not-a-ratio"));
            }),
            ("body.input.duration: default", |s| {
                let d = &mut s["properties"]["input"]["properties"]["duration"]["default"];
                *d = json!(d.as_i64().expect("integer") + 1);
            }),
            ("body.input.prompt: maxLength", |s| {
                let m = &mut s["properties"]["input"]["properties"]["prompt"]["maxLength"];
                *m = json!(m.as_u64().expect("integer") + 1);
            }),
            ("body.input.prompt: minLength", |s| {
                let m = &mut s["properties"]["input"]["properties"]["prompt"]["minLength"];
                *m = json!(m.as_u64().expect("integer") + 1);
            }),
            ("body.input: required", |s| {
                let required = s["properties"]["input"]["required"]
                    .as_array_mut()
                    .expect("required");
                required.retain(|r| r != "prompt");
            }),
            ("body.input.aspect_ratio: default", |s| {
                let ratio = &mut s["properties"]["input"]["properties"]["aspect_ratio"];
                let other = ratio["enum"]
                    .as_array()
                    .and_then(|all| all.iter().find(|r| **r != ratio["default"]).cloned())
                    .expect("another ratio");
                ratio["default"] = other;
            }),
            ("body.input.drifted_in: only in the spec", |s| {
                s["properties"]["input"]["properties"]["drifted_in"] = json!({"type": "integer"});
            }),
        ];
        for (expected, drift) in drifts {
            let mut spec = request_schema();
            drift(&mut spec);
            let problems = differences(&spec);
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "expected `{expected}…`, got {problems:#?}"
            );
        }
    }

    /// What typify leaves unenforced, and the ergonomic layer must therefore check.
    #[test]
    fn the_spec_still_needs_runtime_checks() {
        let schema = request_schema();
        assert_eq!(
            at(&schema, "/properties/input/properties/input_urls/maxItems"),
            2
        );
        assert_eq!(
            at(
                &schema,
                "/properties/input/properties/input_urls/items/format"
            ),
            "uri"
        );
        assert_eq!(at(&schema, "/properties/callBackUrl/format"), "uri");
        let schemas = generated::<seedance::BytedanceSeedance15ProBodyInput>();
        let urls = schemas.resolve(at(&schemas.root, "/properties/input_urls"));
        assert_eq!(
            urls.get("maxItems"),
            None,
            "typify now enforces maxItems: compare it above"
        );
    }
}
