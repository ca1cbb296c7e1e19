# Office router, exported before the upgrade to v7.
# jan/15/2021 10:00:00 by RouterOS 6.48.7
# software id = ABCD-1234
#
# model = RB4011iGS+
/interface ethernet
set [ find default-name=ether1 ] comment="ISP 1 - 100 Mbps" name=ether1-isp1 poe-out=off
set [ find default-name=ether2 ] comment="ISP 2 - 40 Mbps" name=ether2-isp2
set [ find default-name=ether5 ] name=ether5-lan
/ip pool
add name=office ranges=192.168.50.100-192.168.50.199
/ip dhcp-server
add address-pool=office disabled=no interface=ether5-lan name=office
/ip address
add address=198.51.100.10/29 interface=ether1-isp1 network=198.51.100.8
add address=203.0.113.20/28 interface=ether2-isp2 network=203.0.113.16
add address=192.168.50.1/24 interface=ether5-lan network=192.168.50.0
/ip firewall mangle
add action=mark-connection chain=prerouting connection-mark=no-mark \
    dst-address-type=!local in-interface=ether5-lan new-connection-mark=isp1 \
    passthrough=yes per-connection-classifier=both-addresses:2/0
add action=mark-connection chain=prerouting connection-mark=no-mark \
    dst-address-type=!local in-interface=ether5-lan new-connection-mark=isp2 \
    passthrough=yes per-connection-classifier=both-addresses:2/1
add action=mark-routing chain=prerouting connection-mark=isp1 in-interface=\
    ether5-lan new-routing-mark=to_isp1 passthrough=no
add action=mark-routing chain=prerouting connection-mark=isp2 in-interface=\
    ether5-lan new-routing-mark=to_isp2 passthrough=no
/ip firewall nat
add action=masquerade chain=srcnat out-interface=ether1-isp1
add action=masquerade chain=srcnat out-interface=ether2-isp2
/ip route
add check-gateway=ping distance=1 gateway=198.51.100.9 routing-mark=to_isp1
add check-gateway=ping distance=1 gateway=203.0.113.17 routing-mark=to_isp2
add check-gateway=ping distance=1 gateway=198.51.100.9
add check-gateway=ping distance=2 gateway=203.0.113.17
/system ntp client
set enabled=yes primary-ntp=162.159.200.1
