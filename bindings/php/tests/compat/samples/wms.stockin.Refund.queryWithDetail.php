<?php
header("Content-Type: text/html; charset=UTF-8");
date_default_timezone_set("Asia/Shanghai");
require_once('wdtsdk.php');

$client = new WdtErpClient("url","wdtapi3","appkey","secret");

$paraMap = new stdClass();
$paraMap->start_time = "2019-09-01 00:00:00";
$paraMap->end_time = "2019-10-01 23:59:59";


$pager = new Pager(1,0,true);
$response = $client->pageCall("wms.stockin.Refund.queryWithDetail",$pager, $paraMap);

?>
