# pccsim scenario config: two ISPs balanced 2:1; each WAN is judged by pinging a host beyond
# it (recursive routes, as in MikroTik's failover guide), so an upstream failure is caught.
/interface set ether1 name=ISP1
/interface set ether2 name=ISP2
/interface set ether3 name=LAN

/ip address add address=192.168.1.2/24 interface=ISP1
/ip address add address=192.168.2.2/24 interface=ISP2
/ip address add address=10.0.0.1/24 interface=LAN

/ip firewall mangle add chain=prerouting in-interface=ISP1 connection-mark=no-mark \
    action=mark-connection new-connection-mark=isp1_conn
/ip firewall mangle add chain=prerouting in-interface=ISP2 connection-mark=no-mark \
    action=mark-connection new-connection-mark=isp2_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:3/0 \
    action=mark-connection new-connection-mark=isp1_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:3/1 \
    action=mark-connection new-connection-mark=isp1_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:3/2 \
    action=mark-connection new-connection-mark=isp2_conn
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=isp1_conn \
    action=mark-routing new-routing-mark=to_isp1
/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=isp2_conn \
    action=mark-routing new-routing-mark=to_isp2

# A host beyond each ISP, reachable only through that ISP's gateway (scope 10)...
/ip route add dst-address=9.9.9.9/32 gateway=192.168.1.1 scope=10
/ip route add dst-address=149.112.112.112/32 gateway=192.168.2.1 scope=10
# ...and the default routes resolve through them (target-scope 11), checked by pinging them.
/ip route add gateway=9.9.9.9 target-scope=11 routing-mark=to_isp1 check-gateway=ping
/ip route add gateway=149.112.112.112 target-scope=11 routing-mark=to_isp2 check-gateway=ping
/ip route add gateway=9.9.9.9 target-scope=11 distance=1 check-gateway=ping
/ip route add gateway=149.112.112.112 target-scope=11 distance=2 check-gateway=ping

/ip firewall nat add chain=srcnat out-interface=ISP1 action=masquerade
/ip firewall nat add chain=srcnat out-interface=ISP2 action=masquerade
