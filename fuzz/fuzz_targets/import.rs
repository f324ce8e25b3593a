//! The import document (`clout import`, BackupService.Import) on arbitrary bytes.
//!
//! Parsing and validation may refuse a document, with a message, but must not
//! panic. An accepted document must write out as JSON and read back the same
//! once written (its times are kept to the millisecond).

#![no_main]

use clout_daemon::store::backup::{Document, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let doc: Document = match serde_json::from_slice(data) {
        Ok(d) => d,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    if let Err(e) = validate(&doc) {
        assert!(!e.to_string().is_empty());
        return;
    }
    let once = match serde_json::to_string(&doc) {
        Ok(j) => j,
        Err(e) => panic!("a valid document does not write out: {e}"),
    };
    let again: Document = match serde_json::from_str(&once) {
        Ok(d) => d,
        Err(e) => panic!("a valid document does not read back after writing it out: {e}\n{once}"),
    };
    let twice = serde_json::to_string(&again).unwrap_or_default();
    assert_eq!(once, twice, "writing a document out is not stable");
    assert!(validate(&again).is_ok(), "a valid document is invalid after writing it out");
});
