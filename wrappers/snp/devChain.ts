import { createHash, createPrivateKey } from 'crypto';
import { SnpTestChain, assembleSnpTestChain } from './testChain';
import { amdRsaKeyId } from './amd';
import { snpImageHashOf } from './report';

/**
 * The development AMD SEV-SNP chain of local networks: an ARK, an ASK and a
 * VCEK in AMD's exact shapes (testChain.ts), made once with
 * generateSnpTestChain and kept here so that every devnet pins the same
 * root. Like the development mnemonic it is public: a network that pins this
 * ARK accepts whatever anyone signs with it, so only development networks
 * pin it (scripts/deployNetwork.ts, devnet only), next to AMD's real roots.
 * Workers on such a network can register with SEV-SNP evidence from it
 * (provider `simulated-sev-snp`) and go through every on-chain SEV-SNP step.
 */
const DEV_SNP_KEYS = {
    ark: `-----BEGIN PRIVATE KEY-----
MIIJQwIBADANBgkqhkiG9w0BAQEFAASCCS0wggkpAgEAAoICAQCh9M6+C1ZWvZRB
kxbbo2GDsH7Toicku91IQ/7jCh6hYgb/NWFhKt6ECkjdsYAeWpBJqCQdQwJ5dJcr
D+bUuPx2C9Ve4W+5zLWiETaYwwEUCdhGuu9UMcYPjzE2tL0bSSN6QXh2twbB3YE9
BJSwuex6Howl/ooQ9V0+7cj/drvCV4o+8iqNH8fQXA08W0N0GjCpFwiBluidfYmM
a+BA9qnhXW4ya3D1EDtKrwAiMadDWlqs2XUr818IoyfJa33u1dGEDLfTpO7mjZMW
rYCbZFBGv+uufbiVz2xiYQaLcBHjn/yrY3wAdJOMuroTTNppK7vj4gI0GxcXSPEU
wh/KVxbrJuLZrxOQIinscqJEvry3DhQtppxbyakpKhH/1zQi2s35r7ccn1oxJ9Kt
ibvfEpnamRMgidrT7QOIHBIgD1eKSO0b5digUxrPdVoH3O/sk+nHIYSeJEGzqR1A
MB+1QEdIwD27OfUzCuqMSVFtPa42jyazrrCD6+u+3aNFn3FNESQxqJx15w+Tu6C1
EpsbATnXejVDuSQCsl+PTLAiejxuckeAK8DC/A+AZDK7DL2lCMFKfRcpDLHMnGXj
yuA14DxjLH6LWlzBMFBHtcEZpN4DLe9aBU9lgRIwbQMK8gRFWk1YAQvKhzHmzYmx
QQQiH21k+CAj8rYiK8Cf/P8lv3pcSQIDAQABAoICAEbyjNzg744pF3jQfDt0a6P6
XdzNFJO5fpsJOm/wP3HYFROYqVOdKYQzUy9W8jaZ2sqBj2yILd3R7uUM3sSCUwpN
bcfWPxDoNgtMuhualW7XTzjQ7EX4Vfj79AWwkIUS+ak1ZBWxYRLtO4/k4VQ35nmq
xx9fzdDXA+Ws2hfbRi5BFg00HeLbsLc8lAnEOxzx2i5AqlfGqZlQZMCwgzlCNTJG
MR+CRKX+WdMCLa9NDCZrvvwoePVrdE6+1o+ceLr3TQSpY6AiCQvTqkNNd2DbRXVw
3sh+R63NA4BnW6wayKNsMw5LkwdKClckd5471RQsde9C009LLMblC8NZtP55P07K
g9FblvJr/A1jAfa3CzPS9BndNr+rCkPXuHYm9uivtGEYLmb9dZ6LggKu4g1QfgRm
jXHeRL2DqLQKQSImIRRpY5Cjl3T7Vt11ti3+M05IpnQ1AoP/vh0NSdISFRvAYroN
zPdMqr4Ih0j1lG8sDUBIPUQAMLY8Ek8whosVsN+LCcT884GVMNB+XayPnrAokDbN
SOPc/XMz12yZrjl13Lw3LpCb6LGYJ/78O/ENRyauaMTqG1w1OWb52IxmHB9Lf36d
zvEW9Epa8Ja9e47j5tnDGR9nC5yKUsTM2OskZhEu4my2R/Y/GZ8pfgSb/cd1qp2u
w+2CftmHyXuwnmH5N92vAoIBAQDWXrUBxplyTIqew9QhbeEmGTOPpI779AE+Fzgo
36f7jGIldgYTDfyRzxUFsrkwxtSS7xVybMDXJgFggJJ9WiHfxOa0bxLP08P/yQhZ
lsFVZ4PiVp67xSEQvMsvU+pU5lSpwqJUWeLf1BKO6FseyJou4DMHJAQLiwLMZ966
uDFv5ln8fM+Bm1kkCdTCnQQtWJGkRJIm4ZsnMyapqJKZE7QcpYalBnbE4D5p5C5Z
opd35m9g/IO2Jg6r36GiLToChC/gOgzNRTOoAfW8rRuDolJBYYTDOgtgcsDtvRz5
p44K2o+9m/iANJur0q1AyzWuSSRc+46pD0yxHvzlxi2W2lb/AoIBAQDBaGGxFUlN
gKkqs/5RRjI+a+uMQo5UQELB4nb4YULRw6xx+TmlbvfLOILu7xq442Z/9wkzASpV
K0Mbc1bDvV7mssxwswAufhF+zHH/k3aeg9wuV7KRn69O/L/aPgGhEwZRdQT9HH2a
HSU8uRx1wLSKffj2OavH4x6sBeZE99YXlYEeUEl2Z+5J3jrf2xDGeXsuXhN3eF9R
1QhPnQjwbXRJ2LVkdRSGvrLFKIMRQewSycAY3D85r3BjEP6TiXMiFTh2atHzsOcx
wkhy9e4zOtRERCg17NHJ2X80COgj3/RTIU2cCJ2phggtlg7NuhXhGym1XdYPkXW4
GHSA37b5pdS3AoIBAQC5GRWZ7u3X75dR9y1XoBTkXKZUxXZgvxPDlTD8ugHGBjVI
u1wLX+xRykkQnn2hTE2IgcA3CQiJvVs7BEl4yzasjMvXyICpyuRWHDOFh9Jv9+28
paZx44jldt7Kgt63aBp6aoDX7LUlJ2zO0Hq9XeEj0Jq+8646eVF1Rcrf1uN5B6Fz
jiFue8DAiWyYjhNpRCyddkfsIqlhc51SqSfL3WOLyLE2FRrAbA/4RvpukyHOeb56
NA9WXA4XAgYCjqKkQZdFOVqMc9BipS6WN7KmOqZjpdyI5bmlEfDcVoqKVs8jOA0d
X2t25/XyqvrGE7DKSIWJc/x+paNG3Mbpb/E1bFnpAoIBABkXJ4VHk6jgRhHqI9X7
W01Jxtb9U2WOqJpqfLCgPYDk95wZjubtTGwquqGwlzDhH0z+iUz6m7lM0XngLqNa
D9Ox4l/EeQOPC0n9z9QuFzddN9UzP1Ew/BctJt5zKNbyluE+YxVK+uhhW5FTGmQU
SdelnASlWqmlxzbd1Q+hbz7EAGokVENuHDWtBMpBqx10aQyM282l6ge9sURSxPQb
3vgtiuqrXaxVVO/K36X/fVa6oZcYC4O6RMQ1UjFlpXAIfLiwBuisTHHiGHABg5NV
0G/Cv8yvGlArTRs9BJCS3ylhqqXRYFK7tpfjXaxGtcvsMC79K2X9ot3tHkARxbUB
VGUCggEBAJF/IRyt0S7JT670fJSOfHUhH5I7grGw2LGbW1YcHPpgfTDUKZwokq4Y
Ej4FjfW+hF9rDG/PfiVq0RUjVvmmuKZWc5jsFWuHWGvp64R+tp7bbYNOABIxauXV
5fhRRcvTo91stHPDIk3PTieC8+bczjsZHCVE5tGs3yphu40TYDhLPhIXi9O+SC16
Lzi8JUpBYtAZdthkXRnVUJDF/UXQedaClek3sICLnREH+nd32ktJNfQTYMBym7hi
/ttx5BDY7XDH64lIrVoBWul1yDeq2xQ3CJk8y1Hh00ZaGNpvg9Uv/HO//0zTlcYv
eGW8QeGpG+I/Ij14ZgkBmf4MHsvRO/o=
-----END PRIVATE KEY-----
`,
    ask: `-----BEGIN PRIVATE KEY-----
MIIJQgIBADANBgkqhkiG9w0BAQEFAASCCSwwggkoAgEAAoICAQC56kFGAn4NFfDX
q1kDhQ0UQleaflGoXahJQ6T7QNDt7ZkJmh99QC16bMRXewRL2oP/7SHQv5eefTtC
Ay1vyIUwaum4WyMJuL7hjD8HIs2sFUto7EU/9eLRbIW9N3Zv7kZ0SeJ4pmEu0Lkr
YeQ5POcElsVts/Oa5jlvaIUvg7LaHF+4hBsmbgJfYjhQH9Usm/MRTC/iWNWlIei+
AlW1YB12/XZE9py7SbUH8eQ66fAqDeTzVSp9EhH1qZnvKA9v1Q33Kag/gCSlZQko
HjCXDw+JIECfVJzlwo4NXqM4jqms5wen8nVpLDfjt+pNzbc4jN5wI8A9DBZ2EYQ4
q99ghnr2wHruv7DSfJS8Yi6Yq2wTHZAhA66RT1qKbyNCBmOFVF2JoG26f4BI1Hf8
+8E0fT3qhQxdBqbyELQfgg6aiFVvqidyguQhH6yQq8MitQU5TD84e0D4bXJhY1hs
aj5Ld3nU+MtADMfl5ypv8l8w6cJO3T6RWqt7jbV2+R9v+h0eVOPSdrz8Rj3wcwN/
JEw9pmBnyD//gRphF8xggOFg3ERIA6E7BhXJQWgFV/yyh7bpotjdCHgGVSbnjLaG
yCVrMupgen4zubpX4J4iR+BpgRikAQSuSBDVouLraya5nmU2jyjgv5Fm0wZgnZ1O
rydkprPKlhrIZaaxJxYT1lWz/OvrXwIDAQABAoIB/yqGMYRgKgMNHiX9mZeJ11eS
DgXWpfNOlUvz16xLQ362vYNYS6Kv0mHY8NcRoZSbn5WxbtHCVl2UuTIK3Vm0Lonk
lR9AnN9/8Jr7zotFFVRjiobKoJqO3FKY1VOrP4haoqZoeNZ1N/5Eak8soyOQ5w2X
buZv7WTymUz+t7Dtp6XKLP5cx2c7wmudC7Yrkc/bMS+Ky9rdk1XcwQpDRZBTa789
j7NS7hTMOPF71GL6rZ7w4/uoDYGqg/9Xkt4hErwsVLAXnkfLleuUMKBuR1mbUStF
NUnnEKbSZ6uKwSASLEt8jJkWhuD5WLLZ7KFtbF672ew+QSwnQlFNd38NJmAmm06N
9U9gnhi1SPu5STreTASnkqk7SiKuDDtq9UyKQSYl48LPrOdxjnRt7TITszDguCl3
k8U5EvNWqBJ76Zt9nbf1LiPMPp2nKK7eouJ2bDMeWC5fc0kKI/i5yCBXPUUu1LUb
3b/+EDI/GCirvhIgJi1U2GnIsR0IRKK7qx90EZnqZ2dv3LWZ3jKV3Vs3GblOjxHG
BORuwmxVY2wBXxfg4ZPN1tnlkIqflifXzlN3DvaSIaEtRmcHnmB9umA/KlJMMrg2
8MV+TLyVkwyqmc//Z2gvSBLkDJEVUtYap7+8LfXAohKmhdAHXFVDnpDPvFz3gGdZ
a4kc6WpznklmDLblUmkCggEBAOKSM5bk3eiiM7Ga+26z2iG7d7ekQJOV71xyUoGR
cXDBaRliJ2TQMDvNColQx36m+6Su9Jz/VAquD/lUU63U9qe37ryHnY2WkKTKKGBs
euU4E9ubqSDdrByZv+Gs53s19wN31dzatouNWszVq3yuSJGBLDYE55zAqCFphxCN
417oHlSBuw66fTLz6ViC8MPREHwKbXnHXwG9lchMXsSOftsgcnzSh++GgNkml8UE
zxOI4Pm5/eUWrk6GqEWcHqZcDEh2TRGHyaG6yY5twe0JCg7cQU0rss+J1bNdMqcS
zwq8dz80vFDl2634NGpx1F4gDrghTCAqxGdvIn20OWENPP0CggEBANIQLz91XBR3
ClnnXmI/wydlAwwidNBXNPgdCvjtqyWBUmly1KYIduWx7g9QKljZTzcAEtHNuGUC
UnD94nrMy4KilGMKjbvgEWPQwwGk6D3JmPyU1K/CUkdWZRNbOk5nUlIHR9Rybpxo
TglO5qvAm0TXSSHDM4H9i80mwIvwoYa4PdDqdpHFbGkUNjxuPf0DQHiDTAvC4SIN
6wDkupBK3fcTiRVKFUO4OMfemFx18HYf/SOPx/SV+ZzwVC0afQt/rjOEUZKDKL3F
X3GgKoxQYfAejUJAZznWw7I8z5UGA78Jl93wvnFWzQNIlEFyvFTTsVisRAVZjWgQ
huOMGLjbZosCggEBALXvlMGsko1GAqCxxQlGHvlLYnzyxnA8y/K+UoZ81k0m4lBh
wyRvEOxUYAuX9Do9uICrhP21AjV5RJaAIpnKEy7mwixd8iRKLWhGdVnIgn8iIsAM
JSmhF5330F9VyqPj17DPP8qTTlaNccZeJdB+2wMMaQYPtjTnd5ss9CpU5anGVuSh
MCZJllOeDVjn/JIhhU01ymcps57gMDChMtA/ZJptWcHmBQZQSZMWLHUmwWn8Vjvy
IHEfX2TrOKB9FxebfrmJVaWoFj9qkINwm3LN+Wepcj6XwoRpOFNJmW0T63HBmTgG
DtofWeI/F0gKk+/paihthIWoEgLE+Ttbx1+pk7kCggEARSQEmSuEwkuoQY0w+L+p
+VZ7GUxiDI0Xpy7QBL0dnvug54pfScLxd4sII0wslA/6zcydZScEMWMBRaWbHPY5
aecfVjYMDrGip6r39JuVwXiQfVpzYuJf+JEMNcHKQDIr20oAL4H2vE5smQ26SP/d
W1xM+uroEjolAMJnj+gFEnWkCxaRLku/8hov+9YBWzztxHza0+gx9+aC2kluyr2J
r6Bjd3lp5F9HeSngFlbPbeH7jO/vTabrgOdtnWbhj55X9SbxPnsjNss3Lgwc1RBE
HCfCMPNHxrbUtN7lKFTReNisfuWVmXKLijAidCRSrsz6y4fv357pNz5xV4YuQPIe
HwKCAQEArtoVupgVSW6beSccrT9jKsEEhj9eaHAkCoVSHPDmshi3M4iZbJt7USjn
1devmRYyLpYgiQyDJCaEG0tYi0InOb3p+IQo6muII9ewFjMMwL6ABpDqpao1r8em
lEgvqVXO/OlixXGNaqiE19Ig34xt2Y40ekf/9XiHbXIWgaPdGG8nhGkpzPgw40MN
uoCHOf3mkGng/zjSawrMgXP7mzSpTwfu6RjQDEdszHuMLzTMvdaXbfpqDXMlaam8
Up22lVPdZLU7v9ZP7hcecOKqr6i9PaGJUGu79+R/s2u8SjmHtKf6ZXcK47iTbOmn
vbpsOR3L59bjMUO3PNokBqNAnThSWw==
-----END PRIVATE KEY-----
`,
    vcek: `-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDWAilzb8qRJ9pgcQtE
XC6Fr67a+aK3cAtpj1CHXRQvP1gqFzWvhnWchzG/8bk87fOhZANiAASsf5c7xSiM
phoFTfwneKBoDIINtcY96ST4P4Pt3H1ZSmJBVYdZupy2A3HVuLcEqa2GTt4jM4UB
ndU4/lVZmLv9sc6p447jgu9gY272uRRsJ0qC62ii6u2ZIVXp37rxNkw=
-----END PRIVATE KEY-----
`,
    chipId: 'cca54454ab3823328807a2da6b854b9f3d928a0047ef49d32e49b730b3f04d7bcb38b660107115f73ce431515fc8d54ba605535cc1120d79e2922ba520ad235a',
    tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
};

let chain: SnpTestChain | undefined;

/** The development chain (its certificates made on first use). */
export function devSnpChain(): SnpTestChain {
    chain ??= assembleSnpTestChain({
        arkKey: createPrivateKey(DEV_SNP_KEYS.ark),
        askKey: createPrivateKey(DEV_SNP_KEYS.ask),
        vcekKey: createPrivateKey(DEV_SNP_KEYS.vcek),
        chipId: Buffer.from(DEV_SNP_KEYS.chipId, 'hex'),
        tcb: DEV_SNP_KEYS.tcb,
        generation: 'Devnet',
    });
    return chain;
}

/** The id under which a development network pins the chain's ARK. */
export function devSnpArkId(): bigint {
    return amdRsaKeyId(devSnpChain().ark.publicKey);
}

/** The MEASUREMENT of the development SEV-SNP guest image. */
export const DEV_SNP_MEASUREMENT = createHash('sha384').update('cocoon-dev-image').digest();

/** The image hash a development network allow-lists for it: SHA-256 of the MEASUREMENT. */
export function devSnpImageHash(): bigint {
    return snpImageHashOf({ measurement: DEV_SNP_MEASUREMENT });
}
