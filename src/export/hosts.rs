//! The hosts behind the counts: per segment host, the vendors and services
//! it reached, with flows, bytes and when. Written as JSON lines by
//! `replay --hosts-out` and served live at `/api/hosts`. Where the device
//! table knows the host, its record names the device (MAC, vendor, kind).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::aggregate::{Aggregator, HostTraffic};
use crate::hosts::{DeviceKind, Devices, HostFacts, HostId, HostKey};

/// One segment host: what it reached, summed over its vendors.
#[derive(Debug, Clone, Serialize)]
pub struct HostRecord {
    /// The segment the host belongs to.
    pub segment: String,
    /// The host's address.
    pub host: IpAddr,
    /// Whether any vendor it reached is banned.
    pub banned: bool,
    /// Its attributed flows, over all its vendors.
    #[serde(flatten)]
    pub traffic: Traffic,
    /// The device at this address, as `--devices-out` shows it; null when
    /// the device table does not know the host.
    pub device: Option<HostDevice>,
    /// Banned vendors first, then by bytes.
    pub vendors: Vec<HostVendor>,
}

/// What the device table says of a host: the link to its device record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostDevice {
    /// `aa:bb:cc:dd:ee:ff`, or null for a device known by its address.
    pub mac: Option<String>,
    /// What the evidence says it is (null: no evidence names a vendor).
    pub vendor: Option<String>,
    /// What kind of device the evidence says it is (`other` when none says).
    pub kind: DeviceKind,
    /// The device model the strongest evidence names (`iPhone15,2`), if any.
    pub model: Option<String>,
    /// The operating system the strongest evidence names, if any.
    pub os: Option<String>,
    /// Whether the device is a banned vendor's.
    pub banned: bool,
}

impl HostDevice {
    fn new(key: &HostKey, facts: &HostFacts) -> HostDevice {
        let d = facts.device();
        HostDevice {
            mac: key.mac().map(|m| m.to_string()),
            vendor: d.vendor.map(str::to_owned),
            kind: d.kind,
            model: d.model.map(str::to_owned),
            os: d.os.map(str::to_owned),
            banned: d.banned,
        }
    }
}

/// The device each (segment, address) is: a device known by its MAC over
/// one known by the address alone, and of several MACs (an address handed
/// to another device) the one seen last.
fn devices_by_address(devices: &Devices) -> BTreeMap<(&str, IpAddr), (&HostKey, &HostFacts)> {
    let rank = |key: &HostKey, facts: &HostFacts| (matches!(key.id, HostId::Mac(_)), facts.last_ns);
    let mut by_address: BTreeMap<(&str, IpAddr), (&HostKey, &HostFacts)> = BTreeMap::new();
    for (key, facts) in devices.seen_since(0) {
        for &addr in &facts.addresses {
            let slot = by_address.entry((&key.segment, addr)).or_insert((key, facts));
            if rank(key, facts) > rank(slot.0, slot.1) {
                *slot = (key, facts);
            }
        }
    }
    by_address
}

/// One vendor a host reached, summed over its services.
#[derive(Debug, Clone, Serialize)]
pub struct HostVendor {
    /// The vendor's id from the signature files.
    pub vendor: String,
    /// Whether the vendor was banned when its flows were counted.
    pub banned: bool,
    /// The host's flows to the vendor, over its services.
    #[serde(flatten)]
    pub traffic: Traffic,
    /// By bytes, the most first.
    pub services: Vec<HostService>,
}

/// One service of a vendor that a host reached.
#[derive(Debug, Clone, Serialize)]
pub struct HostService {
    /// The service's name within the vendor.
    pub service: String,
    /// The host's flows to the service.
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// Flows, packets and bytes of a host's traffic (to a service, a vendor, or
/// all of them), and when it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Attributed flows.
    pub flows: u64,
    /// Packets both ways of those flows.
    pub packets: u64,
    /// Wire bytes both ways of those flows.
    pub bytes: u64,
    /// The first packet of the earliest of those flows, ns since the Unix
    /// epoch (written as RFC 3339).
    #[serde(serialize_with = "crate::export::time::serialize_rfc3339")]
    pub first_seen: u64,
    /// The last packet of the latest of those flows, ns since the Unix epoch
    /// (written as RFC 3339).
    #[serde(serialize_with = "crate::export::time::serialize_rfc3339")]
    pub last_seen: u64,
}

impl From<HostTraffic> for Traffic {
    fn from(t: HostTraffic) -> Traffic {
        Traffic { flows: t.flows, packets: t.packets, bytes: t.bytes, first_seen: t.first_ns, last_seen: t.last_ns }
    }
}

/// Nothing summed yet: the first [`HostTraffic::add`] sets the first sighting.
const NO_TRAFFIC: HostTraffic = HostTraffic { flows: 0, packets: 0, bytes: 0, first_ns: u64::MAX, last_ns: 0 };

/// Every host's record, by segment and address; only the hosts and vendors
/// that match `vendor` and `segment` when given.
pub fn host_records(agg: &Aggregator, vendor: Option<&str>, segment: Option<&str>) -> Vec<HostRecord> {
    type Services<'a> = BTreeMap<&'a str, &'a HostTraffic>;
    type Vendors<'a> = BTreeMap<(&'a str, bool), Services<'a>>;
    let mut hosts: BTreeMap<(&str, IpAddr), Vendors<'_>> = BTreeMap::new();
    for (k, t) in &agg.host_traffic {
        if vendor.is_some_and(|v| v != &*k.vendor) || segment.is_some_and(|s| s != &*k.segment) {
            continue;
        }
        hosts.entry((&k.segment, k.host)).or_default().entry((&k.vendor, k.banned)).or_default().insert(&k.service, t);
    }
    let devices = devices_by_address(&agg.devices);
    hosts
        .into_iter()
        .map(|((segment, host), vendors)| {
            let mut host_traffic = NO_TRAFFIC;
            let mut vendors: Vec<HostVendor> = vendors
                .into_iter()
                .map(|((vendor, banned), services)| {
                    let mut traffic = NO_TRAFFIC;
                    let mut services: Vec<HostService> = services
                        .into_iter()
                        .map(|(service, t)| {
                            traffic.add(t);
                            HostService { service: service.to_owned(), traffic: Traffic::from(*t) }
                        })
                        .collect();
                    services
                        .sort_by(|a, b| b.traffic.bytes.cmp(&a.traffic.bytes).then_with(|| a.service.cmp(&b.service)));
                    host_traffic.add(&traffic);
                    HostVendor { vendor: vendor.to_owned(), banned, traffic: traffic.into(), services }
                })
                .collect();
            vendors.sort_by_key(|a| (!a.banned, std::cmp::Reverse(a.traffic.bytes)));
            HostRecord {
                segment: segment.to_owned(),
                host,
                banned: vendors.iter().any(|v| v.banned),
                traffic: host_traffic.into(),
                device: devices.get(&(segment, host)).map(|&(key, facts)| HostDevice::new(key, facts)),
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
        assert_eq!(
            (r.traffic.flows, r.traffic.bytes, r.traffic.first_seen, r.traffic.last_seen, r.banned),
            (3, 5_400, 5, 40, true)
        );
        assert_eq!(r.vendors[0].vendor, "apple", "banned first, although google sent more");
        let apple = r.vendors[0].traffic;
        assert_eq!((apple.bytes, apple.first_seen, apple.last_seen), (400, 5, 40));
        assert_eq!(r.vendors[0].services[0].service, "icloud");
        let only_google = host_records(&agg, Some("google"), None);
        assert_eq!((only_google[0].traffic.bytes, only_google[0].banned), (5_000, false));
        assert!(host_records(&agg, None, Some("lab")).is_empty());
        assert_eq!(r.device, None, "no device table entry for the host");
    }

    #[test]
    fn a_host_names_its_device_by_mac_over_address() {
        use crate::classify::rules::Rules;
        use crate::classify::signatures::SignatureSet;
        use crate::hosts::HostTable;
        use crate::inspect::HostFact;

        let rules = Rules::new(SignatureSet::embedded(), crate::segment::Config::default_auto()).unwrap();
        let mut agg = Aggregator::default();
        let host: IpAddr = "10.1.0.5".parse().unwrap();
        let key = HostServiceKey {
            segment: agg.label("hq"),
            host,
            vendor: agg.label("apple"),
            service: agg.label("push"),
            banned: true,
        };
        agg.add_host_traffic(key, HostTraffic { flows: 1, packets: 2, bytes: 3, first_ns: 1, last_ns: 2 });
        let segment: std::sync::Arc<str> = "hq".into();
        let mut table = HostTable::new(8);
        let mac = [0x3a, 0x71, 0x0e, 0x5c, 0x2b, 0x19];
        table.learn(&rules, HostKey::of(host, &segment), host, HostFact::Hostname("x"), 1);
        table.learn(&rules, HostKey::new(Some(mac), host, &segment), host, HostFact::MdnsModel("iPhone15,2"), 2);
        let other = HostKey::new(Some([0x3a; 6]), host, &"lab".into());
        table.learn(&rules, other, host, HostFact::MdnsModel("MacBookPro18,3"), 3);
        agg.devices.merge(table.take_changes());
        let records = host_records(&agg, None, None);
        let device = records[0].device.as_ref().expect("the device table knows 10.1.0.5 in hq");
        assert_eq!(device.mac.as_deref(), Some("3a:71:0e:5c:2b:19"), "by MAC, and of its own segment");
        assert_eq!(
            (device.vendor.as_deref(), device.kind, device.model.as_deref()),
            (Some("apple"), DeviceKind::Phone, Some("iPhone15,2"))
        );
    }
}
