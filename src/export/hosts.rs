//! The hosts behind the counts: per segment host, the vendors and services
//! it reached, with flows, bytes and when. Written as JSON lines by
//! `replay --hosts-out` and served live at `/api/hosts`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::aggregate::{Aggregator, HostTraffic};
use crate::export::time::rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct HostRecord {
    pub segment: String,
    pub host: IpAddr,
    /// Whether any vendor it reached is banned.
    pub banned: bool,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    #[serde(serialize_with = "stamp")]
    pub first_seen: u64,
    #[serde(serialize_with = "stamp")]
    pub last_seen: u64,
    /// Banned vendors first, then by bytes.
    pub vendors: Vec<HostVendor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostVendor {
    pub vendor: String,
    pub banned: bool,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    #[serde(serialize_with = "stamp")]
    pub first_seen: u64,
    #[serde(serialize_with = "stamp")]
    pub last_seen: u64,
    pub services: Vec<HostService>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostService {
    pub service: String,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    #[serde(serialize_with = "stamp")]
    pub first_seen: u64,
    #[serde(serialize_with = "stamp")]
    pub last_seen: u64,
}

fn stamp<S: serde::Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ns))
}

/// Sums of a set of [`HostTraffic`].
#[derive(Default)]
struct Totals {
    flows: u64,
    packets: u64,
    bytes: u64,
    first_ns: Option<u64>,
    last_ns: u64,
}

impl Totals {
    fn add(&mut self, flows: u64, packets: u64, bytes: u64, first_ns: u64, last_ns: u64) {
        self.flows += flows;
        self.packets += packets;
        self.bytes += bytes;
        self.first_ns = Some(self.first_ns.map_or(first_ns, |f| f.min(first_ns)));
        self.last_ns = self.last_ns.max(last_ns);
    }
}

/// Every host's record, by segment and address; only the hosts and vendors
/// that match `vendor` and `segment` when given.
pub fn host_records(agg: &Aggregator, vendor: Option<&str>, segment: Option<&str>) -> Vec<HostRecord> {
    type Services<'a> = BTreeMap<&'a str, &'a HostTraffic>;
    let mut hosts: BTreeMap<(&str, IpAddr), BTreeMap<(&str, bool), Services<'_>>> = BTreeMap::new();
    for (k, t) in &agg.host_traffic {
        if vendor.is_some_and(|v| v != &*k.vendor) || segment.is_some_and(|s| s != &*k.segment) {
            continue;
        }
        hosts.entry((&k.segment, k.host)).or_default().entry((&k.vendor, k.banned)).or_default().insert(&k.service, t);
    }
    hosts
        .into_iter()
        .map(|((segment, host), vendors)| {
            let mut host_totals = Totals::default();
            let mut vendors: Vec<HostVendor> = vendors
                .into_iter()
                .map(|((vendor, banned), services)| {
                    let mut totals = Totals::default();
                    let mut services: Vec<HostService> = services
                        .into_iter()
                        .map(|(service, t)| {
                            totals.add(t.flows, t.packets, t.bytes, t.first_ns, t.last_ns);
                            HostService {
                                service: service.to_owned(),
                                flows: t.flows,
                                packets: t.packets,
                                bytes: t.bytes,
                                first_seen: t.first_ns,
                                last_seen: t.last_ns,
                            }
                        })
                        .collect();
                    services.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.service.cmp(&b.service)));
                    let first = totals.first_ns.unwrap_or_default();
                    host_totals.add(totals.flows, totals.packets, totals.bytes, first, totals.last_ns);
                    HostVendor {
                        vendor: vendor.to_owned(),
                        banned,
                        flows: totals.flows,
                        packets: totals.packets,
                        bytes: totals.bytes,
                        first_seen: first,
                        last_seen: totals.last_ns,
                        services,
                    }
                })
                .collect();
            vendors
                .sort_by(|a, b| (!a.banned, std::cmp::Reverse(a.bytes)).cmp(&(!b.banned, std::cmp::Reverse(b.bytes))));
            HostRecord {
                segment: segment.to_owned(),
                host,
                banned: vendors.iter().any(|v| v.banned),
                flows: host_totals.flows,
                packets: host_totals.packets,
                bytes: host_totals.bytes,
                first_seen: host_totals.first_ns.unwrap_or_default(),
                last_seen: host_totals.last_ns,
                vendors,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::HostServiceKey;

    #[test]
    fn a_host_sums_its_services_and_lists_banned_vendors_first() {
        let mut agg = Aggregator::default();
        let host: IpAddr = "10.1.0.5".parse().unwrap();
        let mut add = |vendor: &str, service: &str, banned: bool, bytes: u64, first: u64, last: u64| {
            let key = HostServiceKey {
                segment: agg.label("hq"),
                host,
                vendor: agg.label(vendor),
                service: agg.label(service),
                banned,
            };
            agg.add_host_traffic(key, HostTraffic { flows: 1, packets: 2, bytes, first_ns: first, last_ns: last });
        };
        add("google", "services", false, 5_000, 10, 20);
        add("apple", "push", true, 100, 30, 40);
        add("apple", "icloud", true, 300, 5, 35);
        let records = host_records(&agg, None, None);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!((r.flows, r.bytes, r.first_seen, r.last_seen, r.banned), (3, 5_400, 5, 40, true));
        assert_eq!(r.vendors[0].vendor, "apple", "banned first, although google sent more");
        assert_eq!((r.vendors[0].bytes, r.vendors[0].first_seen, r.vendors[0].last_seen), (400, 5, 40));
        assert_eq!(r.vendors[0].services[0].service, "icloud");
        let only_google = host_records(&agg, Some("google"), None);
        assert_eq!((only_google[0].bytes, only_google[0].banned), (5_000, false));
        assert!(host_records(&agg, None, Some("lab")).is_empty());
    }
}
