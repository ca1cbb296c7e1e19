# pccsim: the wisp_pcq tower router with CAKE instead of PCQ — two backhauls balanced 1:1 by
# PCC; the same trees, no per-subscriber rate: CAKE shares the 95 Mbit/s down fairly per
# subscriber (dual-dsthost) and the 38 up per subscriber (dual-srchost), with CoDel keeping
# each connection's queue short.
/interface ethernet set [ find default-name=ether1 ] name=backhaul-a
/interface ethernet set [ find default-name=ether2 ] name=backhaul-b
/interface ethernet set [ find default-name=ether3 ] name=subscribers

/ip address add address=100.64.1.2/30 interface=backhaul-a
/ip address add address=100.64.2.2/30 interface=backhaul-b
/ip address add address=10.20.0.1/24 interface=subscribers

/routing table add name=via-a fib
/routing table add name=via-b fib

/ip firewall mangle add chain=prerouting in-interface=backhaul-a connection-mark=no-mark \
    action=mark-connection new-connection-mark=conn-a
/ip firewall mangle add chain=prerouting in-interface=backhaul-b connection-mark=no-mark \
    action=mark-connection new-connection-mark=conn-b
/ip firewall mangle add chain=prerouting in-interface=subscribers connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses-and-ports:2/0 \
    action=mark-connection new-connection-mark=conn-a
/ip firewall mangle add chain=prerouting in-interface=subscribers connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses-and-ports:2/1 \
    action=mark-connection new-connection-mark=conn-b
/ip firewall mangle add chain=prerouting in-interface=subscribers connection-mark=conn-a \
    action=mark-routing new-routing-mark=via-a
/ip firewall mangle add chain=prerouting in-interface=subscribers connection-mark=conn-b \
    action=mark-routing new-routing-mark=via-b

/ip route add gateway=100.64.1.1 routing-table=via-a check-gateway=ping
/ip route add gateway=100.64.2.1 routing-table=via-b check-gateway=ping
/ip route add gateway=100.64.1.1 distance=1 check-gateway=ping
/ip route add gateway=100.64.2.1 distance=2 check-gateway=ping

/ip firewall nat add chain=srcnat out-interface=backhaul-a action=masquerade
/ip firewall nat add chain=srcnat out-interface=backhaul-b action=masquerade

# Packet marks for the queues: what goes to subscribers, what comes from them.
/ip firewall mangle add chain=forward out-interface=subscribers action=mark-packet \
    new-packet-mark=down passthrough=no
/ip firewall mangle add chain=forward in-interface=subscribers action=mark-packet \
    new-packet-mark=up passthrough=no

/queue type add name=fair-down kind=cake cake-flowmode=dual-dsthost
/queue type add name=fair-up kind=cake cake-flowmode=dual-srchost
/queue tree add name=down parent=subscribers packet-mark=down queue=fair-down max-limit=95M
/queue tree add name=up parent=global packet-mark=up queue=fair-up max-limit=38M
