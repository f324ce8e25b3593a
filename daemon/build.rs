fn main() {
    // sqlx::migrate! embeds the migrations but does not ask Cargo to watch them.
    println!("cargo:rerun-if-changed=../migrations");
}
