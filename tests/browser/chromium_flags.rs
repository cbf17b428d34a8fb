//! The flags every headless Chromium of the project starts with: in the browser tests
//! (tests/slow/harness.rs) and in `cargo xtask screenshots` and `cargo xtask lighthouse`, which
//! all include this file. Headless, no sandbox (the tests may run as root), nothing in the
//! background that could disturb a test or a measurement.

pub const HEADLESS: [&str; 8] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];
