# pccsim lesson: two ISPs of the same speed shared 1:1 by PCC, written to be read in class.
# RouterOS 7: one routing table per WAN, marked connections routed by their table.
/interface ethernet set [ find default-name=ether1 ] name=wan-a
/interface ethernet set [ find default-name=ether2 ] name=wan-b
/interface ethernet set [ find default-name=ether3 ] name=lan

/ip address add address=198.51.100.2/30 interface=wan-a
/ip address add address=203.0.113.2/30 interface=wan-b
/ip address add address=192.168.88.1/24 interface=lan

/routing table add name=via-a fib
/routing table add name=via-b fib

# 1. Connections that come in from a WAN stay with that WAN.
/ip firewall mangle add chain=prerouting in-interface=wan-a connection-mark=no-mark \
    action=mark-connection new-connection-mark=conn-a comment="inbound on A"
/ip firewall mangle add chain=prerouting in-interface=wan-b connection-mark=no-mark \
    action=mark-connection new-connection-mark=conn-b comment="inbound on B"
# 2. New LAN connections: the classifier hashes both addresses into 2 buckets.
/ip firewall mangle add chain=prerouting in-interface=lan connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:2/0 \
    action=mark-connection new-connection-mark=conn-a comment="bucket 0 to A"
/ip firewall mangle add chain=prerouting in-interface=lan connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses:2/1 \
    action=mark-connection new-connection-mark=conn-b comment="bucket 1 to B"
# 3. Every LAN packet of a marked connection is routed by its WAN's table.
/ip firewall mangle add chain=prerouting in-interface=lan connection-mark=conn-a \
    action=mark-routing new-routing-mark=via-a
/ip firewall mangle add chain=prerouting in-interface=lan connection-mark=conn-b \
    action=mark-routing new-routing-mark=via-b
# 4. The router's own replies to inbound connections leave by the WAN they came in on.
/ip firewall mangle add chain=output connection-mark=conn-a action=mark-routing \
    new-routing-mark=via-a
/ip firewall mangle add chain=output connection-mark=conn-b action=mark-routing \
    new-routing-mark=via-b

/ip route add gateway=198.51.100.1 routing-table=via-a check-gateway=ping
/ip route add gateway=203.0.113.1 routing-table=via-b check-gateway=ping
/ip route add gateway=198.51.100.1 distance=1 check-gateway=ping
/ip route add gateway=203.0.113.1 distance=2 check-gateway=ping

/ip firewall nat add chain=srcnat out-interface=wan-a action=masquerade
/ip firewall nat add chain=srcnat out-interface=wan-b action=masquerade
