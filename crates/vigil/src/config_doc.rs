//! docs/configuration.md against the configuration structs: every key
//! vigil reads is in the reference with its real default, and the
//! reference names no key vigil does not read. The keys are taken from the
//! serialised defaults, so a setting added to any section is caught here
//! until it is documented.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Config;

const DOC: &str = include_str!("../../../docs/configuration.md");
const DOC_PATH: &str = "docs/configuration.md";

/// Whether the table at `path` is a map (takes keys of the operator's
/// choosing, such as `engine.currency.rates`) rather than a struct: a key
/// added to it survives a round trip through [`Config`].
fn is_map(root: &toml::Value, path: &[&str], table: &toml::Table) -> bool {
    const PROBE: &str = "vigil_doc_probe";
    let sample = table
        .values()
        .next()
        .cloned()
        .unwrap_or_else(|| toml::Value::String("x".into()));
    let mut probed = root.clone();
    let mut t = &mut probed;
    for p in path {
        t = t.get_mut(*p).expect("path exists");
    }
    t.as_table_mut()
        .expect("a table")
        .insert(PROBE.into(), sample);
    let Ok(cfg) = probed.try_into::<Config>() else {
        return false;
    };
    let back = toml::Value::try_from(cfg).expect("config serialises");
    let mut t = &back;
    for p in path {
        t = &t[*p];
    }
    t.get(PROBE).is_some()
}

/// Every key path with its default.
fn config_keys() -> BTreeMap<String, toml::Value> {
    fn walk(
        root: &toml::Value,
        table: &toml::Table,
        path: &mut Vec<String>,
        out: &mut BTreeMap<String, toml::Value>,
    ) {
        for (k, v) in table {
            path.push(k.clone());
            let key = path.join(".");
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            match v {
                toml::Value::Table(t) if !is_map(root, &segments, t) => walk(root, t, path, out),
                toml::Value::Array(a) if a.first().is_some_and(toml::Value::is_table) => {
                    out.insert(key.clone(), v.clone());
                    for (field, value) in a[0].as_table().expect("checked") {
                        out.insert(format!("{key}[].{field}"), value.clone());
                    }
                }
                _ => {
                    out.insert(key, v.clone());
                }
            }
            path.pop();
        }
    }
    let root = toml::Value::try_from(Config::default()).expect("defaults serialise");
    let mut out = BTreeMap::new();
    walk(
        &root,
        root.as_table().expect("a table"),
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// The reference's rows: key and the default column's text.
fn documented_keys(doc: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let Some(row) = line.strip_prefix("| `") else {
            continue;
        };
        let cells: Vec<&str> = row.split(" | ").collect();
        let key = cells[0].split('`').next().unwrap_or_default().to_owned();
        let default = cells.get(1).copied().unwrap_or_default().trim().to_owned();
        assert!(
            out.insert(key.clone(), default).is_none(),
            "{DOC_PATH}: `{key}` documented twice"
        );
    }
    out
}

/// Equal as settings: numbers by value, durations by length (`"14d"` is
/// `"14days"`), tables and arrays element by element.
fn same(a: &toml::Value, b: &toml::Value) -> bool {
    use toml::Value::*;
    let duration = |s: &str| humantime::parse_duration(s).ok();
    match (a, b) {
        (Integer(x), Float(y)) | (Float(y), Integer(x)) => (*x as f64) == *y,
        (String(x), String(y)) => {
            x == y || matches!((duration(x), duration(y)), (Some(p), Some(q)) if p == q)
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Table(x), Table(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn the_reference_documents_every_key_with_its_default_and_nothing_else() {
    let keys = config_keys();
    let doc = documented_keys(DOC);
    let actual: BTreeSet<&String> = keys.keys().collect();
    let listed: BTreeSet<&String> = doc.keys().collect();
    let undocumented: Vec<_> = actual.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&actual).collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from {DOC_PATH} (add a row: key, default, meaning): {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "{DOC_PATH} documents keys vigil does not read: {unknown:?}"
    );
    for (key, default) in &keys {
        if key.contains("[]") {
            continue; // fields of list entries: no default of their own
        }
        let cell = &doc[key];
        let literal = cell
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .unwrap_or_else(|| {
                panic!("{DOC_PATH}: default of `{key}` should be `<TOML value>`, got {cell}")
            });
        let parsed = toml::from_str::<toml::Table>(&format!("v = {literal}"))
            .unwrap_or_else(|e| panic!("{DOC_PATH}: default of `{key}` is not TOML: {e}"))
            .remove("v")
            .expect("parsed");
        assert!(
            same(&parsed, default),
            "{DOC_PATH}: `{key}` defaults to {default}, the reference says {literal}"
        );
    }
}

#[test]
fn the_check_itself_tells_maps_from_sections_and_durations_apart() {
    let keys = config_keys();
    // Maps are one key; sections are descended into.
    assert!(keys.contains_key("engine.currency.rates"));
    assert!(!keys.keys().any(|k| k.starts_with("engine.currency.rates.")));
    assert!(keys.contains_key("kafka.properties"));
    assert!(keys.contains_key("engine.bands.green_min"));
    assert!(!keys.contains_key("engine.bands"));
    assert!(keys.contains_key("topics.inputs[].encoding"));
    let v = |s: &str| toml::from_str::<toml::Table>(&format!("v = {s}")).unwrap()["v"].clone();
    assert!(same(&v("\"14d\""), &v("\"14days\"")));
    assert!(!same(&v("\"14d\""), &v("\"7d\"")));
    assert!(same(&v("70"), &v("70.0")));
    assert!(!same(&v("\"json\""), &v("\"text\"")));
    let doc = documented_keys("| `a.b` | `1` | one |\n| `c` | `\"x\"` | two |\n");
    assert_eq!(doc["a.b"], "`1`");
    assert_eq!(doc.len(), 2);
}
