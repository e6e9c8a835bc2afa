//! `parse_project` and `parse_stack_settings`: the first byte picks one of
//! `pulumi_auto_fuzz::YAML_PARSERS`, the rest is its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = pulumi_auto_fuzz::yaml_settings(usize::from(which), &text);
});
