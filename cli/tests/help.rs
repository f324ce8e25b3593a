//! Snapshots of every help text of `clout` (cli/tests/help/*.toml): a change
//! to a command's flags or wording shows up as a diff here, and the README's
//! usage can be checked against them. `TRYCMD=overwrite cargo test -p
//! clout-cli --test help` rewrites them after a deliberate change.

#[test]
fn help_texts() {
    trycmd::TestCases::new().case("tests/help/*.toml");
}
