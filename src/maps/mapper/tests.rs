use super::*;
use serde_json::json;

#[test]
fn globs_match_as_fnmatch() {
    assert!(fnmatch("customers", "cust*"));
    assert!(fnmatch("orders", "?rders"));
    assert!(fnmatch("a1", "a[0-9]"));
    assert!(!fnmatch("ab", "a[!b]"));
    assert!(fnmatch("a[", "a["));
    assert!(!fnmatch("customers", "orders"));
}
