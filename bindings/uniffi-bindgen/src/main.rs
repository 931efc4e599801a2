//! `uniffi-bindgen generate --library <libcobrowse_visitor_uniffi.so> --language python|kotlin|swift`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
