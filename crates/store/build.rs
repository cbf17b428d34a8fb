//! The migrations are the repository's `migrations/` folder (beside `content/`, where every
//! schema change is made for both engines), embedded by `sqlx::migrate!`. It lies outside this
//! crate's folder and a macro's reads are not tracked, so Cargo would not notice a new
//! migration: this says to.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
