//! `parse_version` on what `pulumi version` could print.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pulumi_auto_fuzz::version(&text);
});
