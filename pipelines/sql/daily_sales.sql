{# Paid revenue per order date and city, using each customer's latest snapshot.
   This file is a Jinja template: ds, data_interval_start and data_interval_end are
   available and are bound as parameters (Jinja also renders inside SQL comments,
   so comment templates with Jinja comments like this one). #}
select
    o.order_date,
    c.city,
    count(*) as orders,
    sum(o.amount) as revenue
from analytics.orders as o
join analytics.customers_snapshot as c
  on c.id = o.customer_id
 and c.snapshot_date = (select max(snapshot_date) from analytics.customers_snapshot)
where o.status = 'paid'
group by o.order_date, c.city
