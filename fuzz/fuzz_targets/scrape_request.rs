//! What a scraper sends the metrics endpoint of `relay` and `tcp listen --keep-open`: any bytes
//! get a status of the three it knows, and only `GET /metrics` gets the metrics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (code, _, _, body) = sockit::scrape::respond(data, &|| "m 1\n".to_string());
    assert!(matches!(code, 200 | 404 | 405), "{code}");
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let asked = words.next() == Some(b"GET".as_slice()) && words.next() == Some(b"/metrics".as_slice());
    assert_eq!(body == "m 1\n", asked, "{body}");
});
