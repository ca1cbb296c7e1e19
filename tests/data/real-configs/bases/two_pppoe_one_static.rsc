# Two PPPoE lines (pppoe-out1 on ether1, pppoe-out2 on ether2), a third ISP with a static
# address on ether3 (gateway 192.168.5.1), the LAN on ether4.
/interface pppoe-client
add name=pppoe-out1 interface=ether1 user=one add-default-route=yes default-route-distance=1 disabled=no
add name=pppoe-out2 interface=ether2 user=two add-default-route=yes default-route-distance=2 disabled=no
/ip address
add address=192.168.5.2/24 interface=ether3
add address=10.20.0.1/24 interface=ether4
/ip route
add gateway=192.168.5.1 distance=3
/ip firewall nat
add chain=srcnat out-interface=pppoe-out1 action=masquerade
add chain=srcnat out-interface=pppoe-out2 action=masquerade
add chain=srcnat out-interface=ether3 action=masquerade
