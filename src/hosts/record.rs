//! A device as the devices-out file and `/api/devices` show it.

use std::net::IpAddr;

use serde::Serialize;

use super::{DeviceKind, Evidence, HostFacts, HostKey};
use crate::export::time::rfc3339;

/// One device: a JSON line of `--devices-out`, an element of `/api/devices`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecord<'a> {
    /// `aa:bb:cc:dd:ee:ff`, or null for a host known by its address.
    pub mac: Option<String>,
    /// The addresses it used, sorted (at most eight: the lowest).
    pub addresses: &'a [IpAddr],
    /// The last name it announced (DHCP, mDNS), if any: recorded, never
    /// weighed as evidence.
    pub hostname: Option<&'a str>,
    /// The vendor its evidence names (by weight); null when none does.
    pub vendor: Option<&'a str>,
    /// What kind of device the evidence says it is (`other` when none says).
    pub kind: DeviceKind,
    /// The model the strongest agreeing evidence names, if any.
    pub model: Option<&'a str>,
    /// The OS the strongest agreeing evidence names, if any.
    pub os: Option<&'a str>,
    /// Every piece of evidence, in the order first seen, including that
    /// which names another vendor.
    pub evidence: &'a [Evidence],
    /// The segment the device was seen on.
    pub segment: &'a str,
    /// Whether the policy bans the inferred vendor.
    pub banned: bool,
    /// When it was first seen (RFC 3339, capture time).
    pub first_seen: String,
    /// When it was last seen (RFC 3339, capture time).
    pub last_seen: String,
    /// Its traffic by vendor and service.
    pub traffic: Vec<TrafficRecord<'a>>,
}

/// The device's traffic to one vendor's service.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficRecord<'a> {
    /// `none` for traffic no signature matched.
    pub vendor: &'a str,
    /// The service's name within the vendor (`none` likewise).
    pub service: &'a str,
    /// Flows between the device and the service.
    pub flows: u64,
    /// Wire bytes both ways of those flows.
    pub bytes: u64,
}

impl<'a> DeviceRecord<'a> {
    /// The record of the device `key`, from what is known of it.
    pub fn new(key: &'a HostKey, facts: &'a HostFacts) -> Self {
        let d = facts.device();
        let mac = key.mac().map(|m| m.to_string());
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
