# pccsim: a small home-office router at its limit — a hEX (RB750Gr3) balancing a 500 Mbit fibre
# and a 300 Mbit 5G line 1:1 by PCC, with the usual firewall in front. Every packet takes the
# slow path (no FastTrack: PCC's routing marks need mangle), so the CPUs, not the lines, decide
# how fast the office downloads.
/interface ethernet set [ find default-name=ether1 ] name=fibre
/interface ethernet set [ find default-name=ether2 ] name=5g
/interface ethernet set [ find default-name=ether3 ] name=office

/ip address add address=203.0.113.2/29 interface=fibre
/ip address add address=100.72.0.2/24 interface=5g
/ip address add address=192.168.88.1/24 interface=office

/routing table add name=via-fibre fib
/routing table add name=via-5g fib

/ip firewall mangle add chain=prerouting in-interface=fibre connection-mark=no-mark \
    action=mark-connection new-connection-mark=fibre-conn
/ip firewall mangle add chain=prerouting in-interface=5g connection-mark=no-mark \
    action=mark-connection new-connection-mark=5g-conn
/ip firewall mangle add chain=prerouting in-interface=office connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses-and-ports:2/0 \
    action=mark-connection new-connection-mark=fibre-conn
/ip firewall mangle add chain=prerouting in-interface=office connection-mark=no-mark \
    dst-address-type=!local per-connection-classifier=both-addresses-and-ports:2/1 \
    action=mark-connection new-connection-mark=5g-conn
/ip firewall mangle add chain=prerouting in-interface=office connection-mark=fibre-conn \
    action=mark-routing new-routing-mark=via-fibre
/ip firewall mangle add chain=prerouting in-interface=office connection-mark=5g-conn \
    action=mark-routing new-routing-mark=via-5g
/ip firewall mangle add chain=output connection-mark=fibre-conn action=mark-routing \
    new-routing-mark=via-fibre
/ip firewall mangle add chain=output connection-mark=5g-conn action=mark-routing \
    new-routing-mark=via-5g

/ip route add gateway=203.0.113.1 routing-table=via-fibre check-gateway=ping
/ip route add gateway=100.72.0.1 routing-table=via-5g check-gateway=ping
/ip route add gateway=203.0.113.1 distance=1 check-gateway=ping
/ip route add gateway=100.72.0.1 distance=2 check-gateway=ping

/ip firewall nat add chain=srcnat out-interface=fibre action=masquerade
/ip firewall nat add chain=srcnat out-interface=5g action=masquerade

/ip firewall address-list add list=blocked address=198.18.0.0/15
/ip firewall address-list add list=blocked address=203.0.113.128/25
/ip firewall filter add chain=input connection-state=established,related action=accept
/ip firewall filter add chain=input connection-state=invalid action=drop
/ip firewall filter add chain=input protocol=icmp action=accept
/ip firewall filter add chain=input in-interface=office action=accept
/ip firewall filter add chain=input action=drop
/ip firewall filter add chain=forward src-address-list=blocked action=drop
/ip firewall filter add chain=forward dst-address-list=blocked action=drop
/ip firewall filter add chain=forward protocol=tcp dst-port=135-139,445 action=drop
/ip firewall filter add chain=forward protocol=udp dst-port=137-138 action=drop
/ip firewall filter add chain=forward protocol=tcp dst-port=25 in-interface=office action=drop
/ip firewall filter add chain=forward protocol=tcp dst-port=23 action=drop
/ip firewall filter add chain=forward protocol=udp dst-port=1900 action=drop
/ip firewall filter add chain=forward connection-state=invalid action=drop
/ip firewall filter add chain=forward connection-state=established,related action=accept
/ip firewall filter add chain=forward in-interface=office action=accept
/ip firewall filter add chain=forward action=drop
