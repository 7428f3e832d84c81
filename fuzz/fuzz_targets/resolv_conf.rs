//! resolv.conf as any file may be: never a failure, whatever the options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::resolv_conf::ResolvConf;

fuzz_target!(|data: &[u8]| {
    let _ = ResolvConf::parse(&String::from_utf8_lossy(data));
});
