# pccsim scenario config: an office on fibre with a metered LTE backup, RouterOS 7 words.
# PCC sends two thirds of new connections to the fibre and one third to LTE; check-gateway
# takes the fibre's routes out when its gateway stops answering, and puts them back when it
# answers again -- the failback this scenario is about. Tunnels that start on LTE stay there.
/interface ethernet set [ find default-name=ether1 ] name=fibre
/interface ethernet set [ find default-name=ether2 ] name=lte
/interface ethernet set [ find default-name=ether3 ] name=office

/routing table add name=via_fibre fib
/routing table add name=via_lte fib

/ip address add address=198.51.100.2/30 interface=fibre
/ip address add address=100.70.4.2/24 interface=lte
/ip address add address=10.20.0.1/24 interface=office

/ip firewall mangle
add chain=prerouting in-interface=fibre connection-mark=no-mark action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=lte connection-mark=no-mark action=mark-connection new-connection-mark=lte_conn
add chain=prerouting in-interface=office connection-mark=no-mark dst-address-type=!local per-connection-classifier=src-address:3/0 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=office connection-mark=no-mark dst-address-type=!local per-connection-classifier=src-address:3/1 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=office connection-mark=no-mark dst-address-type=!local per-connection-classifier=src-address:3/2 action=mark-connection new-connection-mark=lte_conn
# A site-to-site tunnel must not drop when the fibre comes back: one that had to start on LTE
# becomes an LTE connection and stays there (on the metered line, for as long as it lasts).
add chain=forward out-interface=lte connection-mark=fibre_conn protocol=udp dst-port=4500 action=mark-connection new-connection-mark=lte_conn
add chain=prerouting in-interface=office connection-mark=fibre_conn action=mark-routing new-routing-mark=via_fibre
add chain=prerouting in-interface=office connection-mark=lte_conn action=mark-routing new-routing-mark=via_lte

/ip route
add gateway=198.51.100.1 routing-table=via_fibre check-gateway=ping
add gateway=100.70.4.1 routing-table=via_lte check-gateway=ping
add gateway=198.51.100.1 distance=1 check-gateway=ping
add gateway=100.70.4.1 distance=2 check-gateway=ping

/ip firewall nat
add chain=srcnat out-interface=fibre action=masquerade
add chain=srcnat out-interface=lte action=masquerade
