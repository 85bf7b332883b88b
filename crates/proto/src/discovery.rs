//! The discovery protocols of cameras and recorders:
//!
//! - WS-Discovery (OASIS WS-Discovery 1.1) on UDP 3702, as ONVIF devices
//!   answer it (ONVIF Core Specification, section 7.3): SOAP whose `Types`
//!   name the device class (`dn:NetworkVideoTransmitter`) and whose
//!   `Scopes` are URIs like `onvif://www.onvif.org/name/HIKVISION` and
//!   `onvif://www.onvif.org/hardware/DS-2CD2143G0-I`.
//! - Hikvision SADP on UDP 37020: XML `<ProbeMatch>` replies with the
//!   model in `DeviceDescription`.
//! - Dahua DHIP discovery on UDP 37810: a 32-byte header (its length 0x20
//!   little-endian, then `DHIP`, the body length at offset 16) and a JSON
//!   body, `client.notifyDevInfo` carrying `DeviceType`.
//!
//! Only the few elements read are looked for, in place, without an XML or
//! JSON parser: the bytes are untrusted and what is read is a hint, never
//! a decision by itself.

/// WS-Discovery's UDP port (multicast to 239.255.255.250 and `ff02::c`).
pub const WS_DISCOVERY_PORT: u16 = 3702;
/// Hikvision SADP's UDP port.
pub const SADP_PORT: u16 = 37020;
/// Dahua DHIP discovery's UDP port.
pub const DHIP_PORT: u16 = 37810;

/// The text of the first element whose local name (any namespace prefix)
/// is `local`: `<d:Scopes ...>text</d:Scopes>`; `None` when absent, cut
/// short or not UTF-8.
pub fn element_text<'a>(xml: &'a [u8], local: &str) -> Option<&'a str> {
    let mut at = 0;
    while let Some(open) = xml.get(at..)?.iter().position(|&b| b == b'<') {
        let tag_start = at + open + 1;
        let rest = xml.get(tag_start..)?;
        let tag_end = rest.iter().position(|&b| b == b'>')?;
        let tag = rest.get(..tag_end)?;
        let name_end = tag.iter().position(|&b| b == b' ' || b == b'/').unwrap_or(tag.len());
        let name = tag.get(..name_end)?;
        let local_name = name.rsplit(|&b| b == b':').next()?;
        at = tag_start + tag_end + 1;
        if local_name == local.as_bytes() && !name.starts_with(b"/") && !tag.ends_with(b"/") {
            let body = xml.get(at..)?;
            let close = body.iter().position(|&b| b == b'<')?;
            return core::str::from_utf8(body.get(..close)?).ok().map(str::trim);
        }
    }
    None
}

/// A WS-Discovery `ProbeMatches` or Hello: its `Types` and `Scopes` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsDiscoveryMatch<'a> {
    /// The `Types` element: space-separated qualified names such as
    /// `dn:NetworkVideoTransmitter`; empty when absent.
    pub types: &'a str,
    /// The `Scopes` element: space-separated URIs such as
    /// `onvif://www.onvif.org/name/HIKVISION`.
    pub scopes: &'a str,
}

/// Reads a device's answer (`ProbeMatches`) or announcement (Hello); a
/// Probe, which asks, carries no scopes of a device.
pub fn ws_discovery_match(data: &[u8]) -> Option<WsDiscoveryMatch<'_>> {
    let soap = data.windows(8).any(|w| w.eq_ignore_ascii_case(b"envelope"));
    let answer = element_text(data, "ProbeMatch").is_some() || element_text(data, "Hello").is_some();
    if !soap || !answer {
        return None;
    }
    let scopes = element_text(data, "Scopes")?;
    Some(WsDiscoveryMatch { types: element_text(data, "Types").unwrap_or(""), scopes })
}

/// The value of the ONVIF scope `onvif://www.onvif.org/<kind>/<value>`,
/// still percent-encoded.
pub fn onvif_scope<'a>(scopes: &'a str, kind: &str) -> Option<&'a str> {
    scopes.split_ascii_whitespace().find_map(|scope| {
        let path = scope.strip_prefix("onvif://www.onvif.org/")?;
        let (k, value) = path.split_once('/')?;
        (k.eq_ignore_ascii_case(kind) && !value.is_empty()).then_some(value)
    })
}

/// A SADP reply's model (`DeviceDescription`).
pub fn sadp_model(data: &[u8]) -> Option<&str> {
    if !data.starts_with(b"<?xml") || element_text(data, "ProbeMatch").is_none() {
        return None;
    }
    element_text(data, "DeviceDescription").filter(|m| !m.is_empty())
}

const DHIP_HEADER_LEN: usize = 32;
const DHIP_MAGIC: &[u8; 4] = b"DHIP";

/// A DHIP message's JSON body, when the header checks out.
pub fn dhip_body(data: &[u8]) -> Option<&[u8]> {
    let (header, body) = data.split_at_checked(DHIP_HEADER_LEN)?;
    let le32 = |at: usize| header.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    let header_ok = usize::try_from(le32(0)?) == Ok(DHIP_HEADER_LEN) && header.get(4..8)? == DHIP_MAGIC;
    let len = usize::try_from(le32(16)?).ok()?;
    (header_ok && len <= body.len()).then(|| body.get(..len)).flatten()
}

/// The string value of the first `"key" : "value"` in a JSON text (no
/// escapes inside the value).
pub fn json_string<'a>(json: &'a [u8], key: &str) -> Option<&'a str> {
    let mut at = 0;
    while let Some(found) = json.get(at..)?.windows(key.len() + 2).position(|w| {
        w.first() == Some(&b'"') && w.last() == Some(&b'"') && w.get(1..=key.len()) == Some(key.as_bytes())
    }) {
        at += found + key.len() + 2;
        let rest = json.get(at..)?;
        let after_ws = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let Some(rest) = rest.get(after_ws..).and_then(|r| r.strip_prefix(b":")) else { continue };
        let value_at = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let value = rest.get(value_at..)?.strip_prefix(b"\"")?;
        let end = value.iter().position(|&b| b == b'"' || b == b'\\')?;
        return core::str::from_utf8(value.get(..end)?).ok();
    }
    None
}

/// A DHIP device announcement's model (`DeviceType`) and vendor
/// (`Vendor`), from `client.notifyDevInfo`.
pub fn dhip_device(data: &[u8]) -> Option<(&str, Option<&str>)> {
    let body = dhip_body(data)?;
    if json_string(body, "method")? != "client.notifyDevInfo" {
        return None;
    }
    let model = json_string(body, "DeviceType").filter(|m| !m.is_empty())?;
    Some((model, json_string(body, "Vendor").filter(|v| !v.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE_MATCH: &[u8] = b"<?xml version=\"1.0\"?><SOAP-ENV:Envelope xmlns:d=\"x\"><SOAP-ENV:Body>\
<d:ProbeMatches><d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>\
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I \
onvif://www.onvif.org/hardware/DS-2CD2143G0-I</d:Scopes></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>";

    #[test]
    fn reads_an_onvif_probe_match() {
        let m = ws_discovery_match(PROBE_MATCH).unwrap();
        assert_eq!(m.types, "dn:NetworkVideoTransmitter tds:Device");
        assert_eq!(onvif_scope(m.scopes, "name"), Some("HIKVISION%20DS-2CD2143G0-I"));
        assert_eq!(onvif_scope(m.scopes, "hardware"), Some("DS-2CD2143G0-I"));
        assert_eq!(onvif_scope(m.scopes, "location"), None);
        let probe = b"<s:Envelope><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>";
        assert_eq!(ws_discovery_match(probe), None, "a probe asks; it says nothing of a device");
    }

    #[test]
    fn reads_sadp_and_dhip() {
        let sadp = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><Uuid>A</Uuid><Types>inquiry</Types>\
<DeviceDescription>DS-2CD2143G0-I</DeviceDescription><DeviceSN>X</DeviceSN></ProbeMatch>";
        assert_eq!(sadp_model(sadp), Some("DS-2CD2143G0-I"));
        assert_eq!(sadp_model(b"<?xml version=\"1.0\"?><Probe><Uuid>A</Uuid><Types>inquiry</Types></Probe>"), None);
        let body = br#"{"method" : "client.notifyDevInfo","params":{"deviceInfo":{"DeviceType":"DHI-NVR4104-P-4KS2","Vendor":"Dahua"}}}"#;
        let mut m = vec![0x20, 0, 0, 0];
        m.extend_from_slice(b"DHIP");
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(body);
        assert_eq!(dhip_device(&m), Some(("DHI-NVR4104-P-4KS2", Some("Dahua"))));
        assert_eq!(dhip_device(&m[..m.len() - 1]), None, "the body is cut short");
        for n in 0..m.len() {
            assert_eq!(dhip_device(&m[..n]), None, "a message cut at {n} bytes");
        }
        // A model is read once the element that holds it is closed, never cut short.
        let closed = find(sadp, b"</DeviceDescription>") + 1;
        for n in 0..sadp.len() {
            assert_eq!(sadp_model(&sadp[..n]), (n >= closed).then_some("DS-2CD2143G0-I"), "cut at {n}");
        }
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn a_cut_probe_match_is_read_whole_or_not_at_all() {
        let whole = ws_discovery_match(PROBE_MATCH);
        assert!(whole.is_some());
        let closed = find(PROBE_MATCH, b"</d:Scopes>") + 1;
        for n in 0..PROBE_MATCH.len() {
            assert_eq!(ws_discovery_match(&PROBE_MATCH[..n]), whole.filter(|_| n >= closed), "cut at {n}");
        }
    }

    #[test]
    fn element_and_json_lookups_are_total() {
        for text in [&b""[..], b"<", b"<a", b"<a>", b"<a>v", b"<a/>x", b"</a>x<a>", b"<x:a/>v<x:a"] {
            assert_eq!(element_text(text, "a"), None, "{:?}", core::str::from_utf8(text));
        }
        let text = b"<x:a b='1'>v</x:a>";
        assert_eq!(element_text(text, "a"), Some("v"));
        let closed = find(text, b"</") + 1;
        for n in 0..text.len() {
            assert_eq!(element_text(&text[..n], "a"), (n >= closed).then_some("v"), "cut at {n}");
        }
        assert_eq!(element_text(b"<b>x</b><a> y </a>", "a"), Some("y"), "the first element of that name, trimmed");
        assert_eq!(json_string(br#"{"a":1,"k" : "v"}"#, "k"), Some("v"));
        assert_eq!(json_string(br#"{"k"}"#, "k"), None);
        assert_eq!(json_string(br#""k":"#, "k"), None);
    }
}
