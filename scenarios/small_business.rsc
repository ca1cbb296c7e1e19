# pccsim scenario config: 15-person office; fibre 100/100 and cable 50/10, balanced 1:1,
# with the desk phones pinned to the fibre for a stable NAT address.
/interface set ether1 name=Fibre
/interface set ether2 name=Cable
/interface set ether3 name=LAN

/ip address add address=203.0.113.2/30 interface=Fibre
/ip address add address=198.51.100.2/30 interface=Cable
/ip address add address=192.168.10.1/24 interface=LAN

/ip firewall address-list add list=desk-phones address=192.168.10.50-192.168.10.60

/ip firewall mangle
add chain=prerouting in-interface=Fibre connection-mark=no-mark action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=Cable connection-mark=no-mark action=mark-connection new-connection-mark=cable_conn
# Phones first, and only their new connections: the PCC rules below skip marked ones.
add chain=prerouting in-interface=LAN connection-mark=no-mark src-address-list=desk-phones \
    action=mark-connection new-connection-mark=fibre_conn comment="phones via fibre"
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:2/0 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:2/1 action=mark-connection new-connection-mark=cable_conn
add chain=prerouting in-interface=LAN connection-mark=fibre_conn action=mark-routing new-routing-mark=via_fibre
add chain=prerouting in-interface=LAN connection-mark=cable_conn action=mark-routing new-routing-mark=via_cable

/ip route
add gateway=203.0.113.1 routing-mark=via_fibre check-gateway=ping
add gateway=198.51.100.1 routing-mark=via_cable check-gateway=ping
add gateway=203.0.113.1 distance=1 check-gateway=ping
add gateway=198.51.100.1 distance=2 check-gateway=ping

/ip firewall nat
add chain=srcnat out-interface=Fibre action=masquerade
add chain=srcnat out-interface=Cable action=masquerade
