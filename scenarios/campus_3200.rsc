# pccsim scenario config: the campus of 3,200 users, weighted PCC 5:2 with an LTE backup.
#   ether1  WAN1-Fibre  8/8 Gbit
#   ether2  WAN2-Cable  3.2 Gbit/320 Mbit
#   ether3  WAN3-LTE    800/320 Mbit, used only when both others fail
#   ether4  LAN         3,200 users on 10.10.0.0/20
/interface set ether1 name=WAN1-Fibre comment="fibre 8/8 Gbit"
/interface set ether2 name=WAN2-Cable comment="cable 3.2 Gbit/320 Mbit"
/interface set ether3 name=WAN3-LTE comment="LTE backup"
/interface set ether4 name=LAN

/ip address
add address=203.0.113.2/29 interface=WAN1-Fibre
add address=198.51.100.2/29 interface=WAN2-Cable
add address=100.64.7.2/30 interface=WAN3-LTE
add address=10.10.0.1/20 interface=LAN

# The router resolves names for the LAN.
/ip dns set servers=8.8.8.8,1.1.1.1 allow-remote-requests=yes

/ip firewall mangle
# Connections that arrive from the internet stay with the WAN they came in on.
add chain=prerouting in-interface=WAN1-Fibre connection-mark=no-mark \
    action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=WAN2-Cable connection-mark=no-mark \
    action=mark-connection new-connection-mark=cable_conn
add chain=prerouting in-interface=WAN3-LTE connection-mark=no-mark \
    action=mark-connection new-connection-mark=lte_conn
# New LAN connections: 5 of 7 hash buckets to the fibre, 2 of 7 to the cable.
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/0 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/1 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/2 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/3 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/4 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/5 action=mark-connection new-connection-mark=cable_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local \
    per-connection-classifier=both-addresses:7/6 action=mark-connection new-connection-mark=cable_conn
# Only packets from the LAN get a routing mark: replies must find the LAN in main.
add chain=prerouting in-interface=LAN connection-mark=fibre_conn \
    action=mark-routing new-routing-mark=via_fibre passthrough=no
add chain=prerouting in-interface=LAN connection-mark=cable_conn \
    action=mark-routing new-routing-mark=via_cable passthrough=no
add chain=prerouting in-interface=LAN connection-mark=lte_conn \
    action=mark-routing new-routing-mark=via_lte passthrough=no
add chain=output connection-mark=fibre_conn action=mark-routing new-routing-mark=via_fibre
add chain=output connection-mark=cable_conn action=mark-routing new-routing-mark=via_cable
add chain=output connection-mark=lte_conn action=mark-routing new-routing-mark=via_lte

/ip route
add dst-address=0.0.0.0/0 gateway=203.0.113.1 routing-mark=via_fibre check-gateway=ping
add dst-address=0.0.0.0/0 gateway=198.51.100.1 routing-mark=via_cable check-gateway=ping
add dst-address=0.0.0.0/0 gateway=100.64.7.1 routing-mark=via_lte check-gateway=ping
add dst-address=0.0.0.0/0 gateway=203.0.113.1 distance=1 check-gateway=ping comment="main: fibre"
add dst-address=0.0.0.0/0 gateway=198.51.100.1 distance=2 check-gateway=ping comment="main: cable"
add dst-address=0.0.0.0/0 gateway=100.64.7.1 distance=10 check-gateway=ping comment="main: LTE last"

/ip firewall nat
# The office web server, reachable on both fixed lines.
add chain=dstnat in-interface=WAN1-Fibre protocol=tcp dst-port=443 action=dst-nat \
    to-addresses=10.10.0.5
add chain=dstnat in-interface=WAN2-Cable protocol=tcp dst-port=443 action=dst-nat \
    to-addresses=10.10.0.5
add chain=srcnat out-interface=WAN1-Fibre action=masquerade
add chain=srcnat out-interface=WAN2-Cable action=masquerade
add chain=srcnat out-interface=WAN3-LTE action=masquerade
