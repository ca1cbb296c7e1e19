# pccsim scenario config: three equal WANs, RouterOS v7 style (declared tables, slash paths).
/interface/set ether1 name=wan-a
/interface/set ether2 name=wan-b
/interface/set ether3 name=wan-c
/interface/set ether4 name=lan

/ip/address/add address=192.0.2.10/28 interface=wan-a
/ip/address/add address=198.18.0.10/28 interface=wan-b
/ip/address/add address=198.19.0.10/28 interface=wan-c
/ip/address/add address=172.16.0.1/24 interface=lan

/routing/table/add name=via-a fib
/routing/table/add name=via-b fib
/routing/table/add name=via-c fib

/ip/firewall/mangle/add chain=prerouting in-interface=wan-a connection-mark=no-mark action=mark-connection new-connection-mark=a
/ip/firewall/mangle/add chain=prerouting in-interface=wan-b connection-mark=no-mark action=mark-connection new-connection-mark=b
/ip/firewall/mangle/add chain=prerouting in-interface=wan-c connection-mark=no-mark action=mark-connection new-connection-mark=c
/ip/firewall/mangle/add chain=prerouting in-interface=lan connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:3/0 action=mark-connection new-connection-mark=a
/ip/firewall/mangle/add chain=prerouting in-interface=lan connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:3/1 action=mark-connection new-connection-mark=b
/ip/firewall/mangle/add chain=prerouting in-interface=lan connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:3/2 action=mark-connection new-connection-mark=c
/ip/firewall/mangle/add chain=prerouting in-interface=lan connection-mark=a action=mark-routing new-routing-mark=via-a
/ip/firewall/mangle/add chain=prerouting in-interface=lan connection-mark=b action=mark-routing new-routing-mark=via-b
/ip/firewall/mangle/add chain=prerouting in-interface=lan connection-mark=c action=mark-routing new-routing-mark=via-c

/ip/route/add gateway=192.0.2.1 routing-table=via-a check-gateway=ping
/ip/route/add gateway=198.18.0.1 routing-table=via-b check-gateway=ping
/ip/route/add gateway=198.19.0.1 routing-table=via-c check-gateway=ping
/ip/route/add gateway=192.0.2.1 distance=1 check-gateway=ping
/ip/route/add gateway=198.18.0.1 distance=2 check-gateway=ping
/ip/route/add gateway=198.19.0.1 distance=3 check-gateway=ping

/ip/firewall/nat/add chain=srcnat out-interface=wan-a action=masquerade
/ip/firewall/nat/add chain=srcnat out-interface=wan-b action=masquerade
/ip/firewall/nat/add chain=srcnat out-interface=wan-c action=masquerade
