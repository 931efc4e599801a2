//! `cobrowse`: run scenarios through the simulator and check traces against the spec.
fn main() {}
