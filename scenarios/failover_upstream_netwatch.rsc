# pccsim scenario config: two ISPs balanced 2:1; netwatch pings a host beyond ISP1 and its
# scripts take ISP1's default routes out of service while that host does not answer.
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

/ip route add gateway=192.168.1.1 routing-mark=to_isp1 comment=isp1-default
/ip route add gateway=192.168.2.1 routing-mark=to_isp2 check-gateway=ping
/ip route add gateway=192.168.1.1 distance=1 comment=isp1-default
/ip route add gateway=192.168.2.1 distance=2 check-gateway=ping
# The watched host is pinned to ISP1, so its answers speak for ISP1's whole path.
/ip route add dst-address=9.9.9.9/32 gateway=192.168.1.1

/tool netwatch add host=9.9.9.9 interval=10s timeout=2s \
    down-script="/ip route disable [find comment=\"isp1-default\"]" \
    up-script="/ip route enable [find comment=\"isp1-default\"]"

/ip firewall nat add chain=srcnat out-interface=ISP1 action=masquerade
/ip firewall nat add chain=srcnat out-interface=ISP2 action=masquerade
