# pccsim scenario config: a fibre line and an LTE link, balanced 2:1, check-gateway on both.
/interface set ether1 name=FIBRE
/interface set ether2 name=LTE
/interface set ether3 name=LAN

/ip address add address=192.168.1.2/24 interface=FIBRE
/ip address add address=192.168.2.2/24 interface=LTE
/ip address add address=10.0.0.1/24 interface=LAN

/ip firewall mangle add chain=prerouting in-interface=FIBRE connection-mark=no-mark \
    action=mark-connection new-connection-mark=fibre_conn
/ip firewall mangle add chain=prerouting in-interface=LTE connection-mark=no-mark \
    action=mark-connection new-connection-mark=lte_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:3/0 \
    action=mark-connection new-connection-mark=fibre_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:3/1 \
    action=mark-connection new-connection-mark=fibre_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:3/2 \
    action=mark-connection new-connection-mark=lte_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=fibre_conn \
    action=mark-routing new-routing-mark=to_fibre
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=lte_conn \
    action=mark-routing new-routing-mark=to_lte

/ip route add gateway=192.168.1.1 routing-mark=to_fibre check-gateway=ping
/ip route add gateway=192.168.2.1 routing-mark=to_lte check-gateway=ping
/ip route add gateway=192.168.1.1 distance=1 check-gateway=ping
/ip route add gateway=192.168.2.1 distance=2 check-gateway=ping

/ip firewall nat add chain=srcnat out-interface=FIBRE action=masquerade
/ip firewall nat add chain=srcnat out-interface=LTE action=masquerade
