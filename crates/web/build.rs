//! The static files are the repository's `static/` folder, embedded by `include_dir!`. It lies
//! outside this crate's folder, so Cargo would not notice a change to it: this says to.

fn main() {
    println!("cargo:rerun-if-changed=../../static");
}
