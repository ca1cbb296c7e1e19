# Two ISPs with static addresses on ether2 and ether3, their default routes named by comment,
# the LAN on ether1.
/ip address
add address=203.0.113.2/29 interface=ether2
add address=198.51.100.2/29 interface=ether3
add address=192.168.10.1/24 interface=ether1
/ip route
add gateway=203.0.113.1 distance=1 comment=isp1-default
add gateway=198.51.100.1 distance=2 comment=isp2-default
/ip firewall nat
add chain=srcnat out-interface=ether2 action=masquerade
add chain=srcnat out-interface=ether3 action=masquerade
