use super::*;

fn define(location: &str, vlan: &str, cidr: &str, gateway: &str) -> NetworkCommand {
    NetworkCommand::Define { location: location.into(), vlan: vlan.into(), cidr: cidr.into(), gateway: gateway.into() }
}

fn defined(commands: Vec<NetworkCommand>) -> Result<Networks, NetworkError> {
    let mut all = Networks::default();
    for c in commands {
        for e in decide(&all, c)? {
            evolve(&mut all, &e);
        }
    }
    Ok(all)
}

#[test]
fn a_network_lends_its_hosts_lowest_first_without_its_gateway() {
    let all = defined(vec![define("rzob", "srv", "172.20.2.0/29", "172.20.2.1")]).unwrap();
    let hosts: Vec<String> = all.networks[0].hosts().map(|a| a.to_string()).collect();
    assert_eq!(hosts, ["172.20.2.2", "172.20.2.3", "172.20.2.4", "172.20.2.5", "172.20.2.6"]);
    let all = defined(vec![define("rzob", "srv", "2a02:db8:f030:102::/64", "2a02:db8:f030:102::1")]).unwrap();
    let first: Vec<String> = all.networks[0].hosts().take(2).map(|a| a.to_string()).collect();
    assert_eq!(first, ["2a02:db8:f030:102::2", "2a02:db8:f030:102::3"]);
    assert_eq!(all.networks[0].with_prefix("2a02:db8:f030:102::2".parse().unwrap()), "2a02:db8:f030:102::2/64");
}

#[test]
fn refuses_what_is_not_a_network_of_its_own() {
    let base = define("rzob", "srv", "172.20.2.0/24", "172.20.2.1");
    for (bad, field) in [
        (define("rzob", "srv", "172.20.2.5/24", "172.20.2.1"), "host bits"),
        (define("rzob", "srv", "172.20.2.0/31", "172.20.2.1"), "prefix length"),
        (define("rzob", "srv", "10.0.0.0/8x", "10.0.0.1"), "IPv4 or IPv6 network"),
        (define("rzob", "srv", "172.21.0.0/24", "172.20.2.1"), "host address of"),
        (define("rzob", "srv", "172.21.0.0/24", "172.21.0.255"), "host address of"),
        (define("rzob", "SRV", "172.21.0.0/24", "172.21.0.1"), "lower-case"),
        (define("", "srv", "172.21.0.0/24", "172.21.0.1"), "location"),
    ] {
        let e = defined(vec![base.clone(), bad]).unwrap_err();
        assert!(e.to_string().contains(field), "{e} should say {field}");
        assert_eq!(e.refusal(), Refusal::BadInput);
    }
    let e = defined(vec![base.clone(), define("whq", "fe", "172.20.0.0/16", "172.20.0.1")]).unwrap_err();
    assert_eq!(e.refusal(), Refusal::Conflict, "a wider network over it, even elsewhere: {e}");
    let e = defined(vec![base.clone(), define("rzob", "fe", "172.20.2.128/25", "172.20.2.129")]).unwrap_err();
    assert!(e.to_string().contains("overlaps the network 172.20.2.0/24 of VLAN srv in rzob"), "{e}");
}

#[test]
fn the_same_network_again_is_a_retry() {
    let base = define("rzob", "srv", "172.20.2.0/24", "172.20.2.1");
    let all = defined(vec![base.clone()]).unwrap();
    assert_eq!(decide(&all, base).unwrap(), vec![]);
    let e = decide(&all, define("rzob", "srv", "172.20.2.0/24", "172.20.2.2")).unwrap_err();
    assert_eq!(e.refusal(), Refusal::Conflict, "another gateway is another network: {e}");
}

#[test]
fn macs_are_locally_administered_and_stable_per_vm_and_vlan() {
    let vm = VmId(Uuid::from_u128(7));
    let mac = mac(vm, "srv", 0);
    assert!(mac.starts_with("02:") && mac.len() == 17, "{mac}");
    assert_eq!(super::mac(vm, "srv", 0), mac);
    assert_ne!(super::mac(vm, "fe", 0), mac);
    assert_ne!(super::mac(vm, "srv", 1), mac);
    assert_ne!(super::mac(VmId(Uuid::from_u128(8)), "srv", 0), mac);
}
