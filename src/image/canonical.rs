//! The single JSON encoder for every OCI document we write: compact, object keys sorted by
//! their bytes at every depth, whatever map type the value came from. Digests of configs,
//! manifests and indexes depend on these bytes, so they must not depend on `HashMap` order.

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;

/// Encode `value` canonically.
pub fn to_vec<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    let mut v = serde_json::to_value(value).with_context(|| format!("encoding {what}"))?;
    sort_keys(&mut v);
    serde_json::to_vec(&v).with_context(|| format!("encoding {what}"))
}

/// Sort every object's keys (a no-op unless serde_json's `preserve_order` is enabled, in
/// which case maps keep insertion order and this makes them sorted again).
fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (k, mut child) in entries {
                sort_keys(&mut child);
                map.insert(k, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn keys_sorted_at_every_depth_whatever_the_insertion_order() {
        let mut a = HashMap::new();
        let mut b = HashMap::new();
        for i in 0..50 {
            a.insert(format!("k{i}"), HashMap::from([("z", 1), ("a", 2)]));
        }
        for i in (0..50).rev() {
            b.insert(format!("k{i}"), HashMap::from([("a", 2), ("z", 1)]));
        }
        let ea = to_vec(&a, "a").unwrap();
        let eb = to_vec(&b, "b").unwrap();
        assert_eq!(ea, eb);
        let text = String::from_utf8(ea).unwrap();
        assert!(text.starts_with(r#"{"k0":{"a":2,"z":1},"k1":"#), "{text}");
    }

    #[test]
    fn compact_output() {
        let v = serde_json::json!({"b": [1, 2], "a": "x"});
        assert_eq!(to_vec(&v, "v").unwrap(), br#"{"a":"x","b":[1,2]}"#);
    }
}
