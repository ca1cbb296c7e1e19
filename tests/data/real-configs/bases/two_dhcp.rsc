# Two ISPs by DHCP on ether1 and ether2, the LAN on ether3.
/ip dhcp-client
add interface=ether1 add-default-route=yes default-route-distance=1 comment="ISP 1 - 100 Mbps"
add interface=ether2 add-default-route=yes default-route-distance=2 comment="ISP 2 - 50 Mbps"
/ip address
add address=192.168.88.1/24 interface=ether3
/ip firewall nat
add chain=srcnat out-interface=ether1 action=masquerade
add chain=srcnat out-interface=ether2 action=masquerade
