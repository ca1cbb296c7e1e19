# pccsim: the wisp_pcq tower router without queues — two backhauls balanced 1:1 by PCC.
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
