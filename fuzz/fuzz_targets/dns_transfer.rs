//! A zone transfer, whatever bytes the server sends (its first two bytes the query's id here):
//! the records or a typed error, never a panic, never more than the records bound allows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((id, wire)) = data.split_first_chunk::<2>() else { return };
    let _ = sockit::resolve::transfer::transfer_from_wire("example.test", u16::from_be_bytes(*id), wire);
});
