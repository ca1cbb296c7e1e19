# pccsim scenario config: the dual-WAN PCC setup with FastTrack left on for every established
# connection. FastTracked packets skip mangle, so they carry no routing mark and follow main.
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

/ip route add gateway=192.168.1.1 routing-mark=to_isp1 check-gateway=ping
/ip route add gateway=192.168.2.1 routing-mark=to_isp2 check-gateway=ping
/ip route add gateway=192.168.1.1 distance=1 check-gateway=ping
/ip route add gateway=192.168.2.1 distance=2 check-gateway=ping

/ip firewall nat add chain=srcnat out-interface=ISP1 action=masquerade
/ip firewall nat add chain=srcnat out-interface=ISP2 action=masquerade

/ip firewall filter add chain=forward connection-state=established,related \
    action=fasttrack-connection
/ip firewall filter add chain=forward connection-state=established,related action=accept
