//! `parse_event_line` on the whole input, then `parse_event_log` on it line by line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pulumi_auto_fuzz::event_line(&text);
    let _ = pulumi_auto_fuzz::event_log(&text);
});
