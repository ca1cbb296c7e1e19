# The WAN ports a configuration routes by 172.16.0.1 and 172.8.45.1 but leaves unaddressed.
/ip address
add address=172.16.0.2/24 interface=ether2
add address=172.8.45.2/24 interface=ether3
/ip firewall nat
add chain=srcnat out-interface=ether2 action=masquerade
add chain=srcnat out-interface=ether3 action=masquerade
