//! A device as the devices-out file and `/api/devices` show it.

use std::net::IpAddr;

use serde::Serialize;

use super::{DeviceKind, Evidence, HostFacts, HostId, HostKey};
use crate::export::time::rfc3339;
use crate::mac::Mac;

/// One device: a JSON line of `--devices-out`, an element of `/api/devices`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecord<'a> {
    /// `aa:bb:cc:dd:ee:ff`, or null for a host known by its address.
    pub mac: Option<String>,
    pub addresses: &'a [IpAddr],
    pub hostname: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub kind: DeviceKind,
    pub model: Option<&'a str>,
    pub os: Option<&'a str>,
    pub evidence: &'a [Evidence],
    pub segment: &'a str,
    pub banned: bool,
    pub first_seen: String,
    pub last_seen: String,
    pub traffic: Vec<TrafficRecord<'a>>,
}

/// The device's traffic to one vendor's service.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficRecord<'a> {
    /// `none` for traffic no signature matched.
    pub vendor: &'a str,
    pub service: &'a str,
    pub flows: u64,
    pub bytes: u64,
}

impl<'a> DeviceRecord<'a> {
    pub fn new(key: &'a HostKey, facts: &'a HostFacts) -> Self {
        let d = facts.device();
        let mac = match key.id {
            HostId::Mac(mac) => Some(Mac(mac).to_string()),
            HostId::Addr(_) => None,
        };
        let traffic = facts
            .traffic
            .iter()
            .map(|((vendor, service), t)| TrafficRecord { vendor, service, flows: t.flows, bytes: t.bytes })
            .collect();
        DeviceRecord {
            mac,
            addresses: &facts.addresses,
            hostname: facts.hostname.as_deref(),
            vendor: d.vendor,
            kind: d.kind,
            model: d.model,
            os: d.os,
            evidence: &facts.evidence,
            segment: &key.segment,
            banned: d.banned,
            first_seen: rfc3339(facts.first_ns),
            last_seen: rfc3339(facts.last_ns),
            traffic,
        }
    }
}
