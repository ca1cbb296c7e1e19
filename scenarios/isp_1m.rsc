# pccsim scenario config: a subscriber edge balancing two transits by PCC.
#   ether1  transit-a  10 Gbit
#   ether2  transit-b  10 Gbit
#   ether3  subscribers 100.80.0.0/17 (CGNAT space)
/interface set ether1 name=transit-a
/interface set ether2 name=transit-b
/interface set ether3 name=subscribers

/ip address
add address=203.0.113.2/29 interface=transit-a
add address=198.51.100.2/29 interface=transit-b
add address=100.80.0.1/17 interface=subscribers

# A million tracked connections: room for them (RouterOS v6's max-entries; v7 sizes the
# table from the router's memory), and UDP mappings that outlive a 25 s keepalive before
# its first answer (v6's default of 10 s would re-map them and break the sessions).
/ip firewall connection tracking set max-entries=2000000 udp-timeout=30s

/ip firewall mangle
add chain=prerouting in-interface=transit-a connection-mark=no-mark \
    action=mark-connection new-connection-mark=a_conn
add chain=prerouting in-interface=transit-b connection-mark=no-mark \
    action=mark-connection new-connection-mark=b_conn
add chain=prerouting in-interface=subscribers connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:2/0 action=mark-connection new-connection-mark=a_conn
add chain=prerouting in-interface=subscribers connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:2/1 action=mark-connection new-connection-mark=b_conn
add chain=prerouting in-interface=subscribers connection-mark=a_conn \
    action=mark-routing new-routing-mark=via_a passthrough=no
add chain=prerouting in-interface=subscribers connection-mark=b_conn \
    action=mark-routing new-routing-mark=via_b passthrough=no
add chain=output connection-mark=a_conn action=mark-routing new-routing-mark=via_a
add chain=output connection-mark=b_conn action=mark-routing new-routing-mark=via_b

/ip route
add dst-address=0.0.0.0/0 gateway=203.0.113.1 routing-mark=via_a check-gateway=ping
add dst-address=0.0.0.0/0 gateway=198.51.100.1 routing-mark=via_b check-gateway=ping
add dst-address=0.0.0.0/0 gateway=203.0.113.1 distance=1 check-gateway=ping
add dst-address=0.0.0.0/0 gateway=198.51.100.1 distance=2 check-gateway=ping

/ip firewall nat
add chain=srcnat out-interface=transit-a action=masquerade
add chain=srcnat out-interface=transit-b action=masquerade
