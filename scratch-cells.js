const {Cell}=require('@ton/core');const fs=require('fs');
for (const f of process.argv.slice(2)){const c=Cell.fromBoc(fs.readFileSync(f))[0];let cells=new Set(),bits=0;const walk=(x)=>{const h=x.hash().toString('hex');if(cells.has(h))return;cells.add(h);bits+=x.bits.length;x.refs.forEach(walk)};walk(c);console.log(f,cells.size,'cells',bits,'bits');}
